//! `/api/v1/auth/*` routes and the [`CurrentUser`] extractor.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use super::{Auth, AuthError, IssuedToken, User};
use crate::http::{ApiError, ApiJson, ErrorBody};

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match &error {
            AuthError::InvalidUsername { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_username",
                error.to_string(),
            ),
            AuthError::InvalidPassword { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_password",
                error.to_string(),
            ),
            AuthError::UsernameTaken { .. } => {
                ApiError::conflict("username_taken", error.to_string())
            }
            AuthError::InvalidCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", error.to_string())
            }
            AuthError::InvalidToken => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", error.to_string())
            }
            AuthError::Sql(_) | AuthError::Hashing { .. } => ApiError::internal(&error),
        }
    }
}

/// The signed-in user, from `Authorization: Bearer <token>`. Rejects with 401
/// `invalid_token`. Requires the [`Auth`] extension, which the platform installs on every
/// route.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// Who.
    pub user: User,
    /// The token presented (so logout can revoke exactly it).
    pub token: String,
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = parts
            .extensions
            .get::<Auth>()
            .cloned()
            .ok_or_else(|| ApiError::internal(&"auth extension missing from the router"))?;
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "missing bearer token")
            })?
            .to_owned();
        let user = auth.authenticate(&token).await?;
        Ok(CurrentUser { user, token })
    }
}

/// Body of signup and login.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    /// 3–32 characters: letters, digits, `_`, `.`, `-`.
    pub username: String,
    /// 8–256 characters.
    pub password: String,
}

/// Create an account.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = Credentials,
    responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn signup(
    Extension(auth): Extension<Auth>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = auth.signup(&body.username, &body.password).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Exchange credentials for a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Credentials,
    responses((status = 200, body = IssuedToken), (status = 401, body = ErrorBody)))]
pub async fn login(
    Extension(auth): Extension<Auth>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<IssuedToken>, ApiError> {
    Ok(Json(auth.login(&body.username, &body.password).await?))
}

/// Revoke the presented token.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    Extension(auth): Extension<Auth>,
    current: CurrentUser,
) -> Result<StatusCode, ApiError> {
    auth.revoke(&current.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn me(current: CurrentUser) -> Json<User> {
    Json(current.user)
}

/// The auth routes (stateless: they take [`Auth`] from the request extension).
pub fn routes() -> Router {
    Router::new()
        .route("/api/v1/auth/signup", post(signup))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
}
