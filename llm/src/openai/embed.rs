//! OpenAI embeddings: `POST {base}/embeddings` with the inputs as an array, answered with
//! one vector per input. Vectors are put back in input order by their `index` (the API
//! does not promise the order of `data`), and a count that does not match the inputs is
//! an invalid response rather than vectors silently paired with the wrong texts.

use serde_json::{Value, json};

use crate::transport::{self, invalid, quote};
use crate::{EmbedRequest, EmbedResponse, Endpoint, LlmError, lenient};

pub(crate) async fn embed(
    http: &reqwest::Client,
    endpoint: &Endpoint,
    req: &EmbedRequest,
) -> Result<EmbedResponse, LlmError> {
    let provider = &endpoint.provider;
    let body = json!({"model": req.model, "input": req.input});
    let request = super::post(http, endpoint, "embeddings").json(&body);
    let response = transport::send(request, provider).await?;
    let json = transport::json_body(response, provider).await?;
    parse(&json, req, provider)
}

fn parse(json: &Value, req: &EmbedRequest, provider: &str) -> Result<EmbedResponse, LlmError> {
    let Some(data) = json.get("data").and_then(Value::as_array) else {
        return Err(invalid(
            provider,
            format!("no `data` array in {}", quote(json)),
        ));
    };
    if data.len() != req.input.len() {
        return Err(invalid(
            provider,
            format!("{} embeddings for {} inputs", data.len(), req.input.len()),
        ));
    }
    let mut indexed = Vec::with_capacity(data.len());
    for (position, item) in data.iter().enumerate() {
        let index = item
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|index| usize::try_from(index).ok())
            .unwrap_or(position);
        let vector = item
            .get("embedding")
            .and_then(Value::as_array)
            .and_then(|numbers| {
                numbers
                    .iter()
                    .map(|x| x.as_f64().map(|x| x as f32))
                    .collect()
            });
        match vector {
            Some(vector) => indexed.push((index, vector)),
            None => {
                return Err(invalid(
                    provider,
                    format!("data[{position}].embedding is not an array of numbers"),
                ));
            }
        }
    }
    indexed.sort_by_key(|(index, _)| *index);
    if indexed
        .iter()
        .enumerate()
        .any(|(position, (index, _))| position != *index)
    {
        return Err(invalid(provider, "embedding indexes are not 0..n"));
    }
    Ok(EmbedResponse {
        embeddings: indexed.into_iter().map(|(_, vector)| vector).collect(),
        usage: lenient::usage(json.get("usage"), "prompt_tokens", "completion_tokens"),
        model: lenient::model(json, &req.model),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn vectors_come_back_in_input_order() {
        let req = EmbedRequest {
            model: "e".into(),
            input: vec!["a".into(), "b".into()],
            timeout: Duration::ZERO,
        };
        let json = json!({"data": [
            {"index": 1, "embedding": [2.0]},
            {"index": 0, "embedding": [1.0]},
        ], "usage": {"prompt_tokens": 3}});
        let response = parse(&json, &req, "p").unwrap();
        assert_eq!(response.embeddings, [vec![1.0], vec![2.0]]);
        assert_eq!(response.usage.input_tokens, 3);
        assert_eq!(response.model, "e");
    }
}
