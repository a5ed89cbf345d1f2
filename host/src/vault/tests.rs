use std::io::Write;

use openlegion_llm::Protocol;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn env_wins_over_dotenv_and_names_are_lowercased() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "# keys\nexport OPENLEGION_CRED_OPENAI_API_KEY=\"sk-from-file-1234\"\nOPENLEGION_CRED_GROQ_API_KEY='gsk-file-5678' # comment\nUNRELATED=1").unwrap();
    let vault = Vault::load(
        &path,
        env(&[
            ("OPENLEGION_CRED_OPENAI_API_KEY", "sk-from-env-9999"),
            ("OPENLEGION_SYSTEM_ANTHROPIC_API_KEY", "ant-key-abcdefgh"),
        ]),
    )
    .unwrap();
    assert_eq!(
        vault.get("openai_api_key").unwrap().expose(),
        "sk-from-env-9999"
    );
    assert_eq!(vault.get("groq_api_key").unwrap().expose(), "gsk-file-5678");
    assert_eq!(
        vault.get("anthropic_api_key").unwrap().expose(),
        "ant-key-abcdefgh"
    );
    assert_eq!(
        vault.names(),
        ["anthropic_api_key", "groq_api_key", "openai_api_key"]
    );
    assert!(vault.get("unrelated").is_none());
}

#[test]
fn a_broken_dotenv_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    std::fs::write(&path, "A=1\nthis is not an assignment\n").unwrap();
    let err = Vault::load(&path, env(&[])).unwrap_err().to_string();
    assert!(err.contains(".env:2:"), "{err}");
}

#[test]
fn endpoints_from_defaults_and_overrides() {
    let vault = Vault::load(
        std::path::Path::new("/nonexistent/.env"),
        env(&[
            ("OPENLEGION_CRED_OPENAI_API_KEY", "sk-test-12345678"),
            ("OPENLEGION_CRED_OPENAI_API_BASE", "http://127.0.0.1:9/v1/"),
            ("OPENLEGION_CRED_LOCALAI_API_BASE", "http://127.0.0.1:7/v1"),
        ]),
    )
    .unwrap();
    let e = vault
        .endpoint(&parse_model("openai/gpt-4o-mini").unwrap())
        .unwrap();
    assert_eq!(
        (e.protocol, e.base_url.as_str()),
        (Protocol::OpenAi, "http://127.0.0.1:9/v1")
    );
    assert_eq!(e.api_key.unwrap().expose(), "sk-test-12345678");
    let ollama = vault
        .endpoint(&parse_model("ollama/llama3").unwrap())
        .unwrap();
    assert_eq!(
        (ollama.base_url.as_str(), ollama.api_key.is_none()),
        ("http://localhost:11434/v1", true)
    );
    let custom = vault
        .endpoint(&parse_model("localai/phi").unwrap())
        .unwrap();
    assert_eq!(custom.base_url, "http://127.0.0.1:7/v1");
    let err = vault
        .endpoint(&parse_model("anthropic/claude-x").unwrap())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "No API key configured for model anthropic/claude-x (set OPENLEGION_CRED_ANTHROPIC_API_KEY)"
    );
    assert!(vault.endpoint(&parse_model("nowhere/x").unwrap()).is_err());
}

#[test]
fn model_ids() {
    assert_eq!(
        parse_model("openrouter/anthropic/claude-3.5").unwrap().name,
        "anthropic/claude-3.5"
    );
    assert_eq!(
        parse_model("claude-sonnet-4-5").unwrap().provider,
        "anthropic"
    );
    assert_eq!(parse_model("gpt-4o").unwrap().id(), "openai/gpt-4o");
    assert!(
        parse_model("llama3")
            .unwrap_err()
            .to_string()
            .contains("no provider prefix")
    );
    assert!(parse_model("/x").is_err());
}

#[test]
fn redaction_scrubs_keys_not_bases() {
    let vault = Vault::load(
        std::path::Path::new("/nonexistent/.env"),
        env(&[
            ("OPENLEGION_CRED_OPENAI_API_KEY", "sk-test-SECRET-123456"),
            ("OPENLEGION_CRED_OPENAI_API_BASE", "http://127.0.0.1:9/v1"),
            ("OPENLEGION_CRED_TINY", "abc"),
        ]),
    )
    .unwrap();
    let r = vault.redactor();
    assert_eq!(
        r.redact("Incorrect API key provided: sk-test-SECRET-123456."),
        "Incorrect API key provided: [REDACTED]."
    );
    assert_eq!(
        r.redact("at http://127.0.0.1:9/v1"),
        "at http://127.0.0.1:9/v1"
    );
    assert_eq!(r.redact("abc"), "abc");
}
