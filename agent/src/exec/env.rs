//! The environment a command gets: a short allowlist of variables that locale, time and
//! tools need, with the agent's own values, and nothing else. The agent's environment holds
//! its mesh token (`MESH_AUTH_TOKEN`) and the platform's settings (`OPENLEGION_*`); a
//! command must see neither, so the rule is an allowlist rather than a denylist.
//!
//! The deny rules below are the original platform's; none of the allowlisted names trips
//! them today, and they stay so that widening the allowlist cannot leak a secret by
//! mistake.

use std::ffi::OsString;

/// Names a command may see (the original platform's `execute_code` allowlist).
const ALLOWED: [&str; 10] = [
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TERM",
    "PYTHONIOENCODING",
    "PYTHONHASHSEED",
];

/// A name containing one of these (in any case) never passes.
const DENIED_PARTS: [&str; 5] = ["KEY", "TOKEN", "SECRET", "PASSWORD", "CRED"];
/// Nor does a name starting with one of these: the platform's own settings.
const DENIED_PREFIXES: [&str; 2] = ["OPENLEGION_", "OL_"];

/// Whether a command may see the variable `name`.
fn passes(name: &str) -> bool {
    ALLOWED.contains(&name) && !denied(name)
}

/// Whether `name` looks like a secret or a platform setting.
fn denied(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    DENIED_PARTS.iter().any(|part| upper.contains(part))
        || DENIED_PREFIXES
            .iter()
            .any(|prefix| upper.starts_with(prefix))
}

/// The variables of `vars` a command may see, in their order.
pub(super) fn filtered(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Vec<(OsString, OsString)> {
    vars.into_iter()
        .filter(|(name, _)| name.to_str().is_some_and(passes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allowlist_passes() {
        let vars = [
            ("PATH", "/usr/bin:/bin"),
            ("MY_API_KEY", "sk-1"),
            ("OPENLEGION_X", "1"),
            ("MESH_AUTH_TOKEN", "t"),
            ("HOME", "/data"),
            ("LD_PRELOAD", "/x.so"),
            ("path", "lower case is another variable"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let kept: Vec<_> = filtered(vars)
            .into_iter()
            .map(|(k, _)| k.into_string().unwrap())
            .collect();
        assert_eq!(kept, ["PATH", "HOME"]);
    }

    #[test]
    fn the_deny_rules_catch_secrets_and_platform_settings() {
        for name in [
            "OPENLEGION_PATH",
            "OL_HOME",
            "GIT_TOKEN",
            "db_password",
            "AWS_CREDS",
        ] {
            assert!(denied(name), "{name}");
        }
        for name in ALLOWED {
            assert!(passes(name), "{name}");
        }
    }
}
