//! Black-box tests: the real router on 127.0.0.1:0, a per-test database cloned from a migrated
//! template, a per-test Redis key prefix, reqwest with a cookie store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixtures;
mod helpers;

mod acls;
mod announcement_stream;
mod announcements;
mod audit_logs;
mod auth_flows;
mod auth_impersonation;
mod auth_input;
mod auth_limits;
mod auth_login;
mod auth_mfa;
mod auth_refresh;
mod auth_support;
mod bulk_onboarding;
mod departments;
mod doc_assets;
mod doc_folders;
mod doc_gcs;
mod doc_support;
mod doc_templates;
mod faults;
mod health;
mod loan_admin_queues;
mod loan_admin_support;
mod loan_admin_workflow;
mod loan_applications;
mod loan_borrower;
mod loan_dashboard;
mod loan_view_support;
mod member_lists;
mod meta;
mod migrate;
mod onboarding;
mod org_settings;
mod org_users;
mod orgs;
mod pbgc;
mod roles;
mod security_mfa;
mod security_tenancy;
mod seed;
mod self_context;
mod self_profile;
mod stock_dashboards;
mod stock_grants;
mod stock_reservations;
mod stock_scenarios;
mod stock_summaries;
mod stock_support;
mod tenancy;
mod user_summary;
