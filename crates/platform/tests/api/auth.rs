//! Signup, login, tokens, revoke, expiry and wrong passwords, on every SQL backend.

use std::sync::Arc;

use blueprint_platform::clock::ManualClock;
use blueprint_testkit::{Backends, CacheChoice, TestApp, error_code, spawn_with, sql_choices};
use serde_json::{Value, json};

async fn app_on(sql: blueprint_testkit::SqlChoice, clock: ManualClock) -> TestApp {
    spawn_with(Backends { sql, cache: CacheChoice::Memory }, vec![], Arc::new(clock), |config| {
        config.auth.token_ttl_s = 3600;
    })
    .await
    .unwrap()
}

async fn post(app: &TestApp, path: &str, body: Value, token: Option<&str>) -> (u16, Value) {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = if status == 204 { Value::Null } else { response.json().await.unwrap() };
    (status, body)
}

async fn me(app: &TestApp, token: &str) -> (u16, Value) {
    let response =
        app.client.get(app.url("/api/v1/auth/me")).bearer_auth(token).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn signup_login_me_and_logout_work_on_every_sql_backend() {
    for sql in sql_choices() {
        let app = app_on(sql.clone(), ManualClock::new(1_700_000_000_000)).await;
        let credentials = json!({"username": "Alice", "password": "correct horse"});
        let (status, user) = post(&app, "/api/v1/auth/signup", credentials.clone(), None).await;
        assert_eq!(status, 201, "{sql:?}: {user}");
        assert_eq!(user["username"], "alice");

        let (status, body) = post(&app, "/api/v1/auth/signup", credentials.clone(), None).await;
        assert_eq!((status, error_code(&body)), (409, Some("username_taken")), "{sql:?}");

        let (status, issued) = post(&app, "/api/v1/auth/login", credentials, None).await;
        assert_eq!(status, 200, "{sql:?}: {issued}");
        let token = issued["token"].as_str().unwrap().to_owned();
        assert_eq!(token.len(), 3 + 64, "256 bits, hex, prefixed");

        let (status, who) = me(&app, &token).await;
        assert_eq!((status, who["username"].as_str()), (200, Some("alice")), "{sql:?}");

        let (status, _) = post(&app, "/api/v1/auth/logout", json!({}), Some(&token)).await;
        assert_eq!(status, 204, "{sql:?}");
        let (status, body) = me(&app, &token).await;
        assert_eq!((status, error_code(&body)), (401, Some("invalid_token")), "{sql:?}: revoked");
    }
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_are_indistinguishable_401s() {
    for sql in sql_choices() {
        let app = app_on(sql.clone(), ManualClock::new(1_700_000_000_000)).await;
        post(
            &app,
            "/api/v1/auth/signup",
            json!({"username": "bob", "password": "correct horse"}),
            None,
        )
        .await;
        let (wrong_status, wrong) = post(
            &app,
            "/api/v1/auth/login",
            json!({"username": "bob", "password": "wrong horse"}),
            None,
        )
        .await;
        let (unknown_status, unknown) = post(
            &app,
            "/api/v1/auth/login",
            json!({"username": "nobody", "password": "wrong horse"}),
            None,
        )
        .await;
        assert_eq!((wrong_status, unknown_status), (401, 401), "{sql:?}");
        assert_eq!(wrong, unknown, "{sql:?}: responses must not reveal which usernames exist");
        assert_eq!(error_code(&wrong), Some("invalid_credentials"));
    }
}

#[tokio::test]
async fn tokens_expire_after_their_ttl() {
    for sql in sql_choices() {
        let clock = ManualClock::new(1_700_000_000_000);
        let app = app_on(sql.clone(), clock.clone()).await;
        let credentials = json!({"username": "carol", "password": "correct horse"});
        post(&app, "/api/v1/auth/signup", credentials.clone(), None).await;
        let (_, issued) = post(&app, "/api/v1/auth/login", credentials, None).await;
        let token = issued["token"].as_str().unwrap().to_owned();
        assert_eq!(me(&app, &token).await.0, 200);
        clock.advance_ms(3_599_000);
        assert_eq!(me(&app, &token).await.0, 200, "{sql:?}: still valid 1 s before expiry");
        clock.advance_ms(1_000);
        let (status, body) = me(&app, &token).await;
        assert_eq!((status, error_code(&body)), (401, Some("invalid_token")), "{sql:?}: expired");
    }
}

#[tokio::test]
async fn bad_signups_and_bad_tokens_are_refused_with_codes() {
    let app = app_on(blueprint_testkit::SqlChoice::Sqlite, ManualClock::new(0)).await;
    let (status, body) = post(
        &app,
        "/api/v1/auth/signup",
        json!({"username": "x", "password": "correct horse"}),
        None,
    )
    .await;
    assert_eq!((status, error_code(&body)), (422, Some("invalid_username")));
    let (status, body) =
        post(&app, "/api/v1/auth/signup", json!({"username": "dave", "password": "short"}), None)
            .await;
    assert_eq!((status, error_code(&body)), (422, Some("invalid_password")));
    for token in ["", "garbage", "bp_0000", &format!("bp_{}", "0".repeat(64))] {
        assert_eq!(me(&app, token).await.0, 401, "{token}");
    }
    let response = app.client.get(app.url("/api/v1/auth/me")).send().await.unwrap();
    assert_eq!(response.status(), 401, "no Authorization header");
}

#[tokio::test]
async fn only_the_hash_of_a_token_is_stored() {
    let app = app_on(blueprint_testkit::SqlChoice::Sqlite, ManualClock::new(0)).await;
    let credentials = json!({"username": "erin", "password": "correct horse"});
    post(&app, "/api/v1/auth/signup", credentials.clone(), None).await;
    let (_, issued) = post(&app, "/api/v1/auth/login", credentials, None).await;
    let token = issued["token"].as_str().unwrap();
    let blueprint_platform::sql::Sql::Sqlite(pool) = &app.platform.sql else { unreachable!() };
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM auth_tokens").fetch_all(pool).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token);
    assert!(!stored[0].contains(&token[3..]));
}
