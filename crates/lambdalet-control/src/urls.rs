//! CreateFunctionUrlConfig, GetFunctionUrlConfig, UpdateFunctionUrlConfig,
//! DeleteFunctionUrlConfig, ListFunctionUrlConfigs; the lookup of a URL by its id for the
//! URL listener, and who may invoke through it.
//!
//! A URL is for the function itself (`$LATEST`, no qualifier) or for one of its aliases, as
//! on AWS: never for a version number. The `FunctionUrl` it answers with is
//! `http://<url-id>.lambda-url.<region>.localhost:<port>/`, the port being the URL listener's
//! (`--url-listen`); `*.localhost` names the loopback address in curl and browsers.

use lambdalet_core::{LambdaError, Principal, Qualifier};
use lambdalet_store::LATEST;

use crate::control::{Control, now_ms};
use crate::error::ControlError;
use crate::functions::{ListPage, list_or_none, paginate};
use crate::url_config::{FunctionUrl, InvokeMode, UrlAuthType, UrlInput, new_url_id};

/// The action a resource-policy statement must allow for a URL with `AuthType: NONE`.
pub const INVOKE_URL_ACTION: &str = "lambda:InvokeFunctionUrl";

impl Control {
    /// The port the URL listener serves on, once it is bound (none: `--url-listen off`).
    pub fn set_url_port(&self, port: u16) {
        let _ = self.urls.port.set(port);
    }

    /// The URL listener's port, when it runs.
    pub fn url_port(&self) -> Option<u16> {
        self.urls.port.get().copied()
    }

    /// `FunctionUrl` of a configuration: `http://<id>.lambda-url.<region>.localhost:<port>/`.
    pub fn function_url(&self, u: &FunctionUrl) -> String {
        let port = self
            .urls
            .port
            .get()
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        format!(
            "http://{}.lambda-url.{}.localhost{port}/",
            u.url_id, self.account.region
        )
    }

    /// `FunctionArn` of a configuration: the function's, qualified for an alias.
    pub fn function_url_arn(&self, u: &FunctionUrl) -> String {
        self.target_arn(&u.function, &u.qualifier)
    }

    /// CreateFunctionUrlConfig.
    pub async fn create_function_url(
        &self,
        function: &str,
        qualifier: Option<&Qualifier>,
        input: UrlInput,
    ) -> Result<FunctionUrl, ControlError> {
        let auth = input.auth_type.as_deref().ok_or_else(|| {
            LambdaError::invalid("AuthType is required: NONE (public, with a resource policy) or AWS_IAM (signed requests)")
        })?;
        let auth_type = UrlAuthType::parse(auth)?;
        let invoke_mode = input
            .invoke_mode
            .as_deref()
            .map(InvokeMode::parse)
            .transpose()?
            .unwrap_or(InvokeMode::Buffered);
        if let Some(c) = &input.cors {
            c.validate()?;
        }
        let _w = self.writes.lock().await;
        let q = self.url_target(function, qualifier)?;
        if let Some(u) = self
            .urls
            .by_target
            .read()
            .get(&(function.to_owned(), q.clone()))
        {
            return Err(LambdaError::conflict(format!(
                "Failed to create function url config for [functionArn = {}]. Error message:  FunctionUrlConfig exists for this Lambda function ({}); change it with UpdateFunctionUrlConfig",
                self.function_url_arn(u),
                self.function_url(u)
            ))
            .into());
        }
        let now = now_ms();
        let u = FunctionUrl {
            function: function.to_owned(),
            qualifier: q,
            url_id: new_url_id(),
            auth_type,
            cors: input.cors,
            invoke_mode,
            created_ms: now,
            modified_ms: now,
        };
        let record = u.record()?;
        self.blocking(move |s| s.insert_function_url(&record))
            .await?;
        self.urls.put(u.clone());
        tracing::info!(function, qualifier = %u.qualifier, url = %self.function_url(&u), "function_url.created");
        Ok(u)
    }

    /// UpdateFunctionUrlConfig.
    pub async fn update_function_url(
        &self,
        function: &str,
        qualifier: Option<&Qualifier>,
        input: UrlInput,
    ) -> Result<FunctionUrl, ControlError> {
        let _w = self.writes.lock().await;
        let mut u = self.get_function_url(function, qualifier)?;
        if let Some(a) = input.auth_type.as_deref() {
            u.auth_type = UrlAuthType::parse(a)?;
        }
        if let Some(c) = input.cors {
            c.validate()?;
            u.cors = Some(c);
        }
        if let Some(m) = input.invoke_mode.as_deref() {
            u.invoke_mode = InvokeMode::parse(m)?;
        }
        u.modified_ms = now_ms().max(u.created_ms);
        let record = u.record()?;
        self.blocking(move |s| s.update_function_url(&record))
            .await?;
        self.urls.put(u.clone());
        Ok(u)
    }

    /// GetFunctionUrlConfig.
    pub fn get_function_url(
        &self,
        function: &str,
        qualifier: Option<&Qualifier>,
    ) -> Result<FunctionUrl, ControlError> {
        let q = self.url_target(function, qualifier)?;
        self.urls
            .by_target
            .read()
            .get(&(function.to_owned(), q.clone()))
            .cloned()
            .ok_or_else(|| {
                LambdaError::not_found(format!(
                    "The resource you requested does not exist: {} has no function URL; create one with CreateFunctionUrlConfig",
                    self.target_arn(function, &q)
                ))
                .into()
            })
    }

    /// DeleteFunctionUrlConfig. (A resource-policy statement for the URL stays, as on AWS.)
    pub async fn delete_function_url(
        &self,
        function: &str,
        qualifier: Option<&Qualifier>,
    ) -> Result<(), ControlError> {
        let _w = self.writes.lock().await;
        let u = self.get_function_url(function, qualifier)?;
        let (f, q) = (u.function.clone(), u.qualifier.clone());
        self.blocking(move |s| s.delete_function_url(&f, &q))
            .await?;
        self.urls.forget(function, Some(&u.qualifier));
        tracing::info!(function, qualifier = %u.qualifier, "function_url.deleted");
        Ok(())
    }

    /// ListFunctionUrlConfigs: the function's URL and its aliases', by qualifier.
    pub fn list_function_urls(
        &self,
        function: &str,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<ListPage<FunctionUrl>, ControlError> {
        self.entry(function)?;
        let items: Vec<FunctionUrl> = self
            .urls
            .by_target
            .read()
            .range((function.to_owned(), String::new())..)
            .take_while(|((f, _), _)| f == function)
            .map(|(_, u)| u.clone())
            .collect();
        Ok(paginate(items, marker, max_items, |u| u.qualifier.clone()))
    }

    /// The configuration a request to `/url/<url_id>/...` or `<url_id>.lambda-url...` is for.
    pub fn function_url_by_id(&self, url_id: &str) -> Option<FunctionUrl> {
        let key = self.urls.by_id.read().get(url_id).cloned()?;
        self.urls.by_target.read().get(&key).cloned()
    }

    /// Whether a request may invoke through `u`: `who` is the signer of a request to an
    /// `AWS_IAM` URL (always `Some` there: the listener refuses unsigned ones first), `None`
    /// for an anonymous caller of a `NONE` URL.
    ///
    /// For `AWS_IAM` the signer's rights decide, as for the Invoke API (an administrator's
    /// key may, a function's key as its `accessControl` allows).
    ///
    /// For `NONE`, AWS also requires a resource-policy statement allowing
    /// `lambda:InvokeFunctionUrl` to principal `*` with the condition
    /// `lambda:FunctionUrlAuthType = NONE` (`aws lambda add-permission --action
    /// lambda:InvokeFunctionUrl --principal '*' --function-url-auth-type NONE`), as on AWS.
    pub fn url_invoke_permitted(
        &self,
        u: &FunctionUrl,
        who: Option<&Principal>,
    ) -> Result<(), LambdaError> {
        match (u.auth_type, who) {
            (UrlAuthType::AwsIam, Some(p)) => self.authorize_invoke(p, &u.function),
            (UrlAuthType::AwsIam, None) => Err(LambdaError::new(
                lambdalet_core::ErrorCode::AccessDenied,
                "this function URL takes only requests signed with Signature Version 4",
            )),
            (UrlAuthType::None, _) => {
                let request = lambdalet_core::PolicyRequest {
                    principal: "*",
                    action: "lambda:InvokeFunctionUrl",
                    source_arn: None,
                    source_account: None,
                    function_url_auth_type: Some("NONE"),
                    invoked_via_function_url: true,
                };
                let qualifier = (u.qualifier != LATEST).then_some(u.qualifier.as_str());
                if self.permits_request(&u.function, qualifier, &request) {
                    Ok(())
                } else {
                    Err(LambdaError::new(
                        lambdalet_core::ErrorCode::AccessDenied,
                        "the function's resource policy does not allow lambda:InvokeFunctionUrl to principal * with lambda:FunctionUrlAuthType NONE (aws lambda add-permission --action lambda:InvokeFunctionUrl --principal '*' --function-url-auth-type NONE)",
                    ))
                }
            }
        }
    }

    /// Drops the URL configurations of a deleted function (`None`) or alias from the table;
    /// the store removes their rows itself.
    pub(crate) fn forget_function_urls(&self, function: &str, alias: Option<&str>) {
        self.urls.forget(function, alias);
    }

    /// The qualifier a URL operation is for: `$LATEST` without one, else an existing alias.
    fn url_target(
        &self,
        function: &str,
        qualifier: Option<&Qualifier>,
    ) -> Result<String, ControlError> {
        let entry = self.entry(function)?;
        match qualifier {
            None => Ok(LATEST.to_owned()),
            Some(Qualifier::Alias(a)) => {
                if entry.aliases.contains_key(a) {
                    Ok(a.clone())
                } else {
                    Err(LambdaError::not_found(format!(
                        "Function not found: {}; aliases of {function}: {}",
                        self.account.qualified_arn(function, a),
                        list_or_none(entry.aliases.keys())
                    ))
                    .into())
                }
            }
            Some(q) => Err(LambdaError::invalid(format!(
                "1 validation error detected: Value '{q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$); a function URL is for the function itself (give no qualifier for $LATEST) or one of its aliases"
            ))
            .into()),
        }
    }

    fn target_arn(&self, function: &str, qualifier: &str) -> String {
        if qualifier == LATEST {
            self.account.function_arn(function)
        } else {
            self.account.qualified_arn(function, qualifier)
        }
    }
}
