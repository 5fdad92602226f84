use serde_json::{Value, json};

use crate::helpers::{assert_same_keys, json, sample, spawn_app};

fn sample_body(name: &str) -> Value {
    sample("health-meta.json", name)["response"]["body"].clone()
}

#[tokio::test]
async fn timezones_match_the_legacy_list_exactly() {
    let app = spawn_app().await;
    let resp = app.get("/meta/timezones").await;
    assert_eq!(resp.headers()["content-type"], "application/json");
    let (status, body) = json(resp).await;
    assert_eq!(status, 200);
    let expected = sample_body("meta timezones");
    assert_same_keys(&body, &expected);
    assert_eq!(body, expected);
    assert_eq!(body["data"]["timezones"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn countries_match_the_legacy_list_exactly() {
    let app = spawn_app().await;
    let resp = app.get("/meta/countries").await;
    assert_eq!(resp.headers()["content-type"], "application/json");
    let (status, body) = json(resp).await;
    assert_eq!(status, 200);
    let expected = sample_body("meta countries");
    assert_same_keys(&body, &expected);
    assert_eq!(body["data"], expected["data"]);
    assert_eq!(body, expected);
    assert_eq!(body["data"]["countries"].as_array().unwrap().len(), 193);
}

#[tokio::test]
async fn us_subdivisions_with_a_lower_case_code_match_the_legacy_list() {
    let app = spawn_app().await;
    let (status, body) = json(app.get("/meta/countries/us/subdivisions").await).await;
    assert_eq!(status, 200);
    let expected = sample_body("meta subdivisions (lower-case code us)");
    assert_eq!(body["data"]["country"], "US");
    assert_eq!(body, expected);
}

#[tokio::test]
async fn unknown_country_gives_an_empty_list() {
    let app = spawn_app().await;
    let (status, body) = json(app.get("/meta/countries/ZZ/subdivisions").await).await;
    assert_eq!(status, 200);
    assert_eq!(body, sample_body("meta subdivisions unknown country"));

    // Anything else the path can carry is upper-cased and answered with an empty list.
    for (path, country) in [
        ("/meta/countries/zz/subdivisions", "ZZ"),
        ("/meta/countries/usa/subdivisions", "USA"),
        ("/meta/countries/%C3%BF/subdivisions", "Ÿ"),
        ("/meta/countries/a%20b/subdivisions", "A B"),
    ] {
        let (status, body) = json(app.get(path).await).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            body["data"],
            json!({"country": country, "subdivisions": []}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn other_countries_have_named_subdivisions_without_the_prefix() {
    let app = spawn_app().await;
    for (code, spot) in [
        ("GB", ("ENG", "England")),
        ("in", ("MH", "Mahārāshtra")),
        ("Ca", ("ON", "Ontario")),
        ("de", ("BY", "Bayern")),
    ] {
        let (status, body) = json(
            app.get(&format!("/meta/countries/{code}/subdivisions"))
                .await,
        )
        .await;
        assert_eq!(status, 200, "{code}");
        let data = &body["data"];
        assert_eq!(data["country"], code.to_uppercase());
        let list = data["subdivisions"].as_array().unwrap();
        assert!(!list.is_empty(), "{code}");
        for entry in list {
            assert_same_keys(entry, &json!({"code": "", "name": ""}));
            let sub = entry["code"].as_str().unwrap();
            assert!(!sub.is_empty() && !sub.contains('-'), "{code}: {sub}");
            assert!(!entry["name"].as_str().unwrap().is_empty(), "{code}: {sub}");
        }
        let names: Vec<&str> = list.iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert!(names.windows(2).all(|w| w[0] <= w[1]), "{code}: sorted");
        assert!(
            list.contains(&json!({"code": spot.0, "name": spot.1})),
            "{code}: {spot:?}"
        );
    }
}

#[tokio::test]
async fn meta_routes_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let spec: Value = app
        .call("GET", "")
        .url(format!("{}/openapi.json", app.address))
        .response()
        .await
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/meta/timezones",
        "/api/v1/meta/countries",
        "/api/v1/meta/countries/{country_code}/subdivisions",
    ] {
        assert!(spec["paths"][path]["get"].is_object(), "{path}");
    }
}
