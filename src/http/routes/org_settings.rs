//! `GET /org/settings` and `PUT /org/settings` (contract §3 "Org settings").
//!
//! The PUT body is validated field by field the way the legacy pydantic model did (lax bools
//! and ints, enum lists, `ge`/`le` bounds, exact decimals from numbers or strings), all errors
//! collected in model order; then the service applies the stock and loan rules (400).

use axum::extract::State;
use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::permissions::{MFA_ACTIONS, perm, step};
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::ApiJson;
use crate::http::guard::Can;
use crate::http::state::AppState;
use crate::http::step_up::StepUp;
use crate::http::validate::lax::{Invalid, py_bool, py_decimal, py_int, quoted_or};
use crate::services;
use crate::services::org_settings::{Patch, SettingsUpdate, UpdateError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, put_settings))
}

const REPAYMENT_METHODS: [&str; 2] = ["BALLOON", "PRINCIPAL_AND_INTEREST"];
const INTEREST_TYPES: [&str; 2] = ["FIXED", "VARIABLE"];

/// The org's settings; the row is created with its defaults on first read.
#[utoipa::path(get, path = "/org/settings", tag = "org-settings", security(("bearer" = [])),
    responses((status = 200, description = "OrgSettingsResponse"), (status = 403, description = "Missing permission: org.settings.view")))]
pub async fn get_settings(
    State(state): State<AppState>,
    user: Can<perm::OrgSettingsView>,
) -> ApiResult<Envelope<Value>> {
    let mut tx = state.db.begin().await?;
    let settings = services::org_settings::get_or_create(&mut tx, user.org_id.as_str()).await?;
    let settings = services::loans::pbgc::shown_settings(&mut tx, settings).await?;
    tx.commit().await?;
    Ok(Envelope(settings.response()))
}

/// Partial update; every change is audited as `org_settings.updated`.
#[utoipa::path(put, path = "/org/settings", tag = "org-settings", security(("bearer" = [])),
    request_body(content = Object, description = "Any OrgSettingsUpdate field"),
    responses((status = 200, description = "OrgSettingsResponse"), (status = 400, description = "Rule violations, '; '-joined"),
              (status = 403, description = "Missing permission or step-up required"), (status = 422, description = "Invalid field")))]
pub async fn put_settings(
    State(state): State<AppState>,
    user: Can<perm::OrgSettingsManage>,
    _: StepUp<step::OrgSettingsChange>,
    ApiJson(raw): ApiJson<Value>,
) -> ApiResult<Envelope<Value>> {
    let patch = parse_update(&raw)?;

    let org_id = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    let updated = match services::org_settings::update(&mut tx, org_id, &patch).await {
        Ok(u) => u,
        Err(UpdateError::Rules(msg)) => return Err(ApiError::bad_request(msg)),
        Err(UpdateError::OutOfRange { field }) => {
            return Err(ApiError::validation(vec![
                FieldError::body(
                    &[field],
                    "decimal_whole_digits",
                    "Decimal input should have no more than 4 digits before the decimal point",
                    raw.get(field).cloned().unwrap_or(Value::Null),
                )
                .with_ctx(json!({"whole_digits": 4})),
            ]));
        }
        Err(UpdateError::Db(e)) => return Err(e.into()),
    };
    services::audit::record(
        &mut tx,
        user.audit(
            "org_settings.updated",
            "org_settings",
            org_id.to_owned(),
            Some(updated.old.snapshot()),
            Some(updated.new.snapshot()),
        ),
    )
    .await?;
    let shown = services::loans::pbgc::shown_settings(&mut tx, updated.new.clone()).await?;
    tx.commit().await?;
    // Every settings update drops the org's cached stock summaries and dashboards (any field:
    // the legacy service did the same), after the commit.
    services::stock::cache::invalidate_org(&state.cache, org_id).await;
    // `/self/context` shows the session timeout: the cached views of the org go everywhere.
    crate::http::guard::views_changed(&state, crate::guard_cache::Scope::Org(org_id.to_owned()))
        .await;
    if updated.devices_forgotten > 0 {
        tracing::info!(
            org_id,
            devices = updated.devices_forgotten,
            "remember_device_days set to 0: remembered devices deleted"
        );
    }
    Ok(Envelope(shown.response()))
}

/// Turns the JSON body into a validated update, collecting every field error in model order.
pub fn parse_update(raw: &Value) -> ApiResult<SettingsUpdate> {
    let Some(obj) = raw.as_object() else {
        return Err(ApiError::validation(vec![FieldError::body(
            &[],
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
            raw.clone(),
        )]));
    };
    let mut errors = Vec::new();
    let mut u = SettingsUpdate::default();
    let e = &mut errors;
    u.allow_user_data_export = field(obj, "allow_user_data_export", e, py_bool);
    u.allow_profile_edit = field(obj, "allow_profile_edit", e, py_bool);
    u.allow_impersonation = field(obj, "allow_impersonation", e, py_bool);
    u.require_two_factor = field(obj, "require_two_factor", e, py_bool);
    u.mfa_required_actions = list_field(obj, "mfa_required_actions", MFA_ACTIONS, e);
    u.remember_device_days = field(obj, "remember_device_days", e, |v| py_int(v, Some(0), None));
    u.session_timeout_minutes = field(obj, "session_timeout_minutes", e, |v| {
        py_int(v, Some(1), Some(60))
    });
    u.audit_log_retention_days = field(obj, "audit_log_retention_days", e, |v| {
        py_int(v, Some(0), None)
    });
    u.inactive_user_retention_days = field(obj, "inactive_user_retention_days", e, |v| {
        py_int(v, Some(0), None)
    });
    u.enforce_service_duration_rule = field(obj, "enforce_service_duration_rule", e, py_bool);
    u.min_service_duration_years = field(obj, "min_service_duration_years", e, |v| {
        let d = py_decimal(v, Some(0), None)?;
        if d.whole_digits() > 4 {
            return Err((
                "decimal_whole_digits",
                "Decimal input should have no more than 4 digits before the decimal point".into(),
                Some(json!({"whole_digits": 4})),
            ));
        }
        Ok(d)
    });
    u.enforce_min_vested_to_exercise = field(obj, "enforce_min_vested_to_exercise", e, py_bool);
    u.min_vested_shares_to_exercise = field(obj, "min_vested_shares_to_exercise", e, |v| {
        py_int::<i64>(v, Some(0), None)
    });
    u.allowed_repayment_methods =
        list_field(obj, "allowed_repayment_methods", &REPAYMENT_METHODS, e);
    u.min_loan_term_months = field(obj, "min_loan_term_months", e, |v| py_int(v, Some(1), None));
    u.max_loan_term_months = field(obj, "max_loan_term_months", e, |v| py_int(v, Some(1), None));
    u.allowed_interest_types = list_field(obj, "allowed_interest_types", &INTEREST_TYPES, e);
    u.fixed_interest_rate_annual_percent =
        field(obj, "fixed_interest_rate_annual_percent", e, |v| {
            py_decimal(v, Some(0), Some(100))
        });
    u.variable_base_rate_annual_percent = field(obj, "variable_base_rate_annual_percent", e, |v| {
        py_decimal(v, Some(0), Some(100))
    });
    u.variable_margin_annual_percent = field(obj, "variable_margin_annual_percent", e, |v| {
        py_decimal(v, Some(0), Some(100))
    });
    u.require_down_payment = field(obj, "require_down_payment", e, py_bool);
    u.down_payment_percent = field(obj, "down_payment_percent", e, |v| {
        py_decimal(v, Some(0), Some(100))
    });
    if errors.is_empty() {
        Ok(u)
    } else {
        Err(ApiError::validation(errors))
    }
}

fn field<T>(
    obj: &Map<String, Value>,
    name: &'static str,
    errors: &mut Vec<FieldError>,
    check: impl Fn(&Value) -> Result<T, Invalid>,
) -> Patch<T> {
    match obj.get(name) {
        None => Patch::Absent,
        Some(Value::Null) => Patch::Null,
        Some(v) => match check(v) {
            Ok(t) => Patch::Set(t),
            Err((kind, msg, ctx)) => {
                let mut fe = FieldError::body(&[name], kind, msg, v.clone());
                fe.ctx = ctx;
                errors.push(fe);
                Patch::Absent
            }
        },
    }
}

fn list_field(
    obj: &Map<String, Value>,
    name: &'static str,
    allowed: &[&str],
    errors: &mut Vec<FieldError>,
) -> Patch<Vec<String>> {
    match obj.get(name) {
        None => Patch::Absent,
        Some(Value::Null) => Patch::Null,
        Some(Value::Array(items)) => {
            let expected = quoted_or(allowed);
            let mut out = Vec::with_capacity(items.len());
            let before = errors.len();
            for (index, item) in items.iter().enumerate() {
                match item.as_str().filter(|s| allowed.contains(s)) {
                    Some(s) => out.push(s.to_owned()),
                    None => {
                        let mut fe = FieldError::body(
                            &[name],
                            "enum",
                            format!("Input should be {expected}"),
                            item.clone(),
                        );
                        fe.loc.push(json!(index));
                        fe.ctx = Some(json!({"expected": expected}));
                        errors.push(fe);
                    }
                }
            }
            if errors.len() == before {
                Patch::Set(out)
            } else {
                Patch::Absent
            }
        }
        Some(other) => {
            errors.push(FieldError::body(
                &[name],
                "list_type",
                "Input should be a valid list",
                other.clone(),
            ));
            Patch::Absent
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: Value) -> String {
        parse_update(&body).unwrap_err().message.clone()
    }

    #[test]
    fn field_errors_read_like_the_legacy_ones() {
        assert_eq!(
            message(json!({"session_timeout_minutes": 0})),
            "session_timeout_minutes: Input should be greater than or equal to 1"
        );
        assert_eq!(
            message(json!({"session_timeout_minutes": 61})),
            "session_timeout_minutes: Input should be less than or equal to 60"
        );
        assert_eq!(
            message(json!({"remember_device_days": "many"})),
            "remember_device_days: Input should be a valid integer, unable to parse string as an integer"
        );
        assert_eq!(
            message(json!({"remember_device_days": 1e10})),
            "remember_device_days: Input should be less than or equal to 2147483647"
        );
        assert_eq!(
            message(json!({"allowed_interest_types": ["fixed"]})),
            "allowed_interest_types.0: Input should be 'FIXED' or 'VARIABLE'"
        );
        assert_eq!(
            message(json!({"allowed_repayment_methods": ["INTEREST_ONLY"]})),
            "allowed_repayment_methods.0: Input should be 'BALLOON' or 'PRINCIPAL_AND_INTEREST'"
        );
        assert_eq!(
            message(json!({"down_payment_percent": "100.01"})),
            "down_payment_percent: Input should be less than or equal to 100"
        );
        assert_eq!(
            message(json!({"fixed_interest_rate_annual_percent": "abc"})),
            "fixed_interest_rate_annual_percent: Input should be a valid decimal"
        );
        assert_eq!(
            message(json!({"min_service_duration_years": 12345})),
            "min_service_duration_years: Decimal input should have no more than 4 digits before the decimal point"
        );
        assert_eq!(
            message(json!({"allow_profile_edit": "maybe"})),
            "allow_profile_edit: Input should be a valid boolean, unable to interpret input"
        );
        assert_eq!(
            message(json!([1])),
            "Input should be a valid dictionary or object to extract fields from"
        );
    }

    #[test]
    fn lax_values_are_accepted() {
        let u = parse_update(&json!({
            "session_timeout_minutes": "10", "allow_profile_edit": "yes",
            "min_service_duration_years": 0.5, "down_payment_percent": "12.5",
            "min_loan_term_months": 12.0, "variable_margin_annual_percent": null
        }))
        .unwrap();
        assert_eq!(u.session_timeout_minutes, Patch::Set(10));
        assert_eq!(u.allow_profile_edit, Patch::Set(true));
        assert_eq!(u.min_loan_term_months, Patch::Set(12));
        assert_eq!(u.variable_margin_annual_percent, Patch::Null);
        assert!(u.remember_device_days.is_absent());
        let Patch::Set(years) = u.min_service_duration_years else {
            panic!("years")
        };
        assert_eq!(years.to_plain(), "0.5");
    }
}
