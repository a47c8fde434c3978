//! A Prometheus HTTP API client: `/api/v1/query` and `/api/v1/query_range`, with a client-side
//! timeout on every request (the server's `timeout=` is not reliable), bounded retries with
//! backoff on connection errors and 5xx, optional bearer or basic auth and extra headers.
//! Error bodies (`errorType`, `error`) are surfaced verbatim.

use std::collections::BTreeMap;
use std::time::Duration;

use preflight_sdk::canary::parse_sample;
use serde::Deserialize;
use serde_json::Value;

/// The largest response read from Prometheus: 32 MiB (11 000 points of one series take well
/// under 1 MiB). More is refused, never buffered.
pub const MAX_RESPONSE_BYTES: usize = 32 << 20;

/// How to reach Prometheus.
#[derive(Debug, Clone)]
pub struct Options {
    /// Base URL, e.g. `http://prometheus:9090`.
    pub url: String,
    /// Client-side timeout per request.
    pub timeout: Duration,
    /// Retries after the first attempt, on connection errors and 5xx.
    pub retries: u32,
    /// First backoff; grows exponentially (with jitter) on each retry.
    pub backoff: Duration,
    /// `Authorization: Bearer TOKEN`.
    pub bearer_token: Option<String>,
    /// Basic auth `(user, password)`.
    pub basic_auth: Option<(String, String)>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

impl Options {
    /// Defaults for a URL: 10 s timeout, 2 retries from 250 ms.
    pub fn new(url: impl Into<String>) -> Self {
        Options {
            url: url.into(),
            timeout: Duration::from_secs(10),
            retries: 2,
            backoff: Duration::from_millis(250),
            bearer_token: None,
            basic_auth: None,
            headers: Vec::new(),
        }
    }
}

/// A query that did not give data.
#[derive(Debug, Clone, PartialEq, thiserror::Error, miette::Diagnostic)]
pub enum PromError {
    /// No connection could be made.
    #[error("Prometheus at `{url}` is unreachable after {attempts} attempt(s): {message}")]
    #[diagnostic(help("check `--prometheus` and that the server is up"))]
    Unreachable {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        message: String,
    },
    /// The request took longer than the client-side timeout.
    #[error("Prometheus at `{url}` did not answer within {} ms", after.as_millis())]
    #[diagnostic(help("raise `--query-timeout`, or make the query cheaper"))]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        after: Duration,
    },
    /// Prometheus answered with an error.
    #[error("Prometheus answered HTTP {status}: {error_type}: {error}")]
    Api {
        /// HTTP status.
        status: u16,
        /// `errorType` from the body (`bad_data`, `execution`, `timeout`, ...), or `http`.
        error_type: String,
        /// `error` from the body, verbatim.
        error: String,
    },
    /// The body is not a Prometheus API response.
    #[error("Prometheus at `{url}` returned a malformed response: {message}")]
    Malformed {
        /// The URL.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The request could not be built (bad URL, bad header).
    #[error("invalid Prometheus request: {0}")]
    Request(String),
}

/// One series of a matrix result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// `(time, value)` pairs; values may be NaN or infinite.
    pub points: Vec<(f64, f64)>,
}

/// A query result.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// Instant vector: one point per series.
    Vector(Vec<Series>),
    /// Range vector.
    Matrix(Vec<Series>),
    /// A scalar `(time, value)`.
    Scalar(f64, f64),
    /// A string.
    String(String),
}

/// A result with the warnings Prometheus attached.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The data.
    pub result: QueryResult,
    /// `warnings` from the response.
    pub warnings: Vec<String>,
}

/// A Prometheus client.
#[derive(Debug, Clone)]
pub struct Client {
    options: Options,
    http: reqwest::Client,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    status: String,
    data: Option<Value>,
    error_type: Option<String>,
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

impl Client {
    /// A client for the options.
    ///
    /// # Errors
    /// [`PromError::Request`] when the HTTP client cannot be built.
    pub fn new(options: Options) -> Result<Client, PromError> {
        // Credentials go to the configured server only: a redirect to another origin is
        // refused, never followed.
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt
                .previous()
                .first()
                .is_some_and(|first| first.origin() == attempt.url().origin());
            if !same_origin {
                let to = attempt.url().to_string();
                attempt.error(format!("refused a redirect to another origin (`{to}`)"))
            } else if attempt.previous().len() >= 5 {
                attempt.error("more than 5 redirects")
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .redirect(redirects)
            .build()
            .map_err(|err| PromError::Request(err.to_string()))?;
        Ok(Client { options, http })
    }

    /// `/api/v1/query` at `time` (Unix seconds; now when `None`).
    ///
    /// # Errors
    /// A [`PromError`].
    pub async fn query(&self, promql: &str, time: Option<f64>) -> Result<Response, PromError> {
        let mut params = vec![("query", promql.to_owned())];
        if let Some(time) = time {
            params.push(("time", format_time(time)));
        }
        self.get("/api/v1/query", &params).await
    }

    /// `/api/v1/query_range` from `start` to `end` every `step` seconds.
    ///
    /// # Errors
    /// A [`PromError`].
    pub async fn query_range(
        &self,
        promql: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Response, PromError> {
        let params = [
            ("query", promql.to_owned()),
            ("start", format_time(start)),
            ("end", format_time(end)),
            ("step", format_time(step)),
        ];
        self.get("/api/v1/query_range", &params).await
    }

    async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Response, PromError> {
        use backon::Retryable as _;
        let url = format!("{}{path}", self.options.url.trim_end_matches('/'));
        let attempts = std::sync::atomic::AtomicU32::new(0);
        // Exponential backoff from `backoff`, with jitter so many pipelines retrying at once do
        // not hit Prometheus in step; only connection errors and 5xx are retried.
        let policy = backon::ExponentialBuilder::default()
            .with_min_delay(self.options.backoff)
            .with_max_delay(self.options.backoff.saturating_mul(16))
            .with_max_times(self.options.retries as usize)
            .with_jitter();
        let outcome = (|| {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.send(&url, params)
        })
        .retry(policy)
        .sleep(tokio::time::sleep)
        .when(|err| match err {
            PromError::Unreachable { .. } => true,
            PromError::Api { status, .. } => *status >= 500,
            _ => false,
        })
        .await;
        match outcome {
            Err(PromError::Unreachable { url, message, .. }) => Err(PromError::Unreachable {
                url,
                attempts: attempts.load(std::sync::atomic::Ordering::Relaxed),
                message,
            }),
            other => other,
        }
    }

    async fn send(&self, url: &str, params: &[(&str, String)]) -> Result<Response, PromError> {
        let mut request = self.http.get(url).query(params);
        if let Some(token) = &self.options.bearer_token {
            request = request.bearer_auth(token);
        }
        if let Some((user, password)) = &self.options.basic_auth {
            request = request.basic_auth(user, Some(password));
        }
        for (name, value) in &self.options.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let transport = |err: reqwest::Error| {
            if err.is_timeout() {
                PromError::Timeout {
                    url: url.to_owned(),
                    after: self.options.timeout,
                }
            } else if err.is_builder() {
                PromError::Request(err.to_string())
            } else if err.is_redirect() {
                PromError::Malformed {
                    url: url.to_owned(),
                    message: error_chain(&err),
                }
            } else {
                PromError::Unreachable {
                    url: url.to_owned(),
                    attempts: 1,
                    message: error_chain(&err),
                }
            }
        };
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let too_large = || PromError::Malformed {
            url: url.to_owned(),
            message: format!("the response is over the {MAX_RESPONSE_BYTES}-byte limit"),
        };
        if response
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        parse_response(url, status, &body)
    }
}

/// Reads one Prometheus API response: the data of a `success`, or the `errorType` and `error`
/// of an `error`, verbatim.
///
/// # Errors
/// [`PromError::Api`] for error responses, [`PromError::Malformed`] for anything else that is
/// not a Prometheus API response.
pub fn parse_response(url: &str, status: u16, body: &[u8]) -> Result<Response, PromError> {
    let envelope: Result<Envelope, _> = serde_json::from_slice(body);
    match envelope {
        Ok(envelope) if envelope.status == "success" && status < 300 => {
            let data = envelope.data.ok_or_else(|| PromError::Malformed {
                url: url.to_owned(),
                message: "`data` is missing".to_owned(),
            })?;
            Ok(Response {
                result: parse_data(url, &data)?,
                warnings: envelope.warnings,
            })
        }
        Ok(envelope) if envelope.status == "error" || status >= 400 => Err(PromError::Api {
            status,
            error_type: envelope.error_type.unwrap_or_else(|| "http".to_owned()),
            error: envelope.error.unwrap_or_else(|| format!("HTTP {status}")),
        }),
        Ok(envelope) => Err(PromError::Malformed {
            url: url.to_owned(),
            message: format!("unexpected status `{}` with HTTP {status}", envelope.status),
        }),
        Err(_) if status >= 400 => Err(PromError::Api {
            status,
            error_type: "http".to_owned(),
            error: String::from_utf8_lossy(body).chars().take(300).collect(),
        }),
        Err(err) => Err(PromError::Malformed {
            url: url.to_owned(),
            message: format!("not JSON: {err}"),
        }),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Seconds as Prometheus accepts them.
pub fn format_time(seconds: f64) -> String {
    if seconds.fract() == 0.0 {
        format!("{}", seconds as i64)
    } else {
        format!("{seconds:.3}")
    }
}

fn parse_data(url: &str, data: &Value) -> Result<QueryResult, PromError> {
    let malformed = |message: String| PromError::Malformed {
        url: url.to_owned(),
        message,
    };
    let kind = data.get("resultType").and_then(Value::as_str).unwrap_or("");
    let result = data
        .get("result")
        .ok_or_else(|| malformed("`data.result` is missing".to_owned()))?;
    let point = |pair: &Value| -> Result<(f64, f64), PromError> {
        let time = pair.get(0).and_then(Value::as_f64);
        let value = pair.get(1).and_then(Value::as_str).and_then(parse_sample);
        match (time, value) {
            (Some(time), Some(value)) => Ok((time, value)),
            _ => Err(malformed(format!("bad sample `{pair}`"))),
        }
    };
    let series_list = |key: &str| -> Result<Vec<Series>, PromError> {
        let items = result
            .as_array()
            .ok_or_else(|| malformed("`result` is not an array".to_owned()))?;
        items
            .iter()
            .map(|item| {
                let labels = item
                    .get("metric")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                let points = match key {
                    "values" => item
                        .get("values")
                        .and_then(Value::as_array)
                        .ok_or_else(|| malformed("a matrix series has no `values`".to_owned()))?
                        .iter()
                        .map(point)
                        .collect::<Result<Vec<_>, _>>()?,
                    _ => vec![point(item.get("value").ok_or_else(|| {
                        malformed("a vector sample has no `value`".to_owned())
                    })?)?],
                };
                Ok(Series { labels, points })
            })
            .collect()
    };
    match kind {
        "matrix" => Ok(QueryResult::Matrix(series_list("values")?)),
        "vector" => Ok(QueryResult::Vector(series_list("value")?)),
        "scalar" => {
            let (time, value) = point(result)?;
            Ok(QueryResult::Scalar(time, value))
        }
        "string" => Ok(QueryResult::String(
            result
                .get(1)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        )),
        other => Err(malformed(format!("unknown resultType `{other}`"))),
    }
}
