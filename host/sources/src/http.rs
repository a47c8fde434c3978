//! Downloads over HTTPS (or HTTP), capped: a body over the cap is refused, never buffered.

/// Downloads `url` with `client`, reading at most `cap` bytes.
///
/// # Errors
/// A message naming the URL and what failed.
pub async fn download(client: &reqwest::Client, url: &str, cap: usize) -> Result<Vec<u8>, String> {
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|err| format!("cannot download `{url}`: {}", chain(&err)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("cannot download `{url}`: HTTP {status}"));
    }
    let too_large = || format!("cannot download `{url}`: it is over the {cap}-byte limit");
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| format!("cannot download `{url}`: {err}"))?
    {
        if bytes.len() + chunk.len() > cap {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// An error with its causes, `: `-separated (reqwest's own message hides the TLS or DNS cause).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
