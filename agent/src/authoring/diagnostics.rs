//! A compiler's output turned into an error the model can act on: the compilers' own
//! banners and outer tracebacks removed, paths shown as the file names of the skill
//! (`skill.py`, line 3), and the whole cut to a few KiB, keeping the end, where the error
//! is.

use std::path::Path;

/// The most of a compiler's output the model gets.
const MAX_DIAGNOSTIC_CHARS: usize = 4000;
/// How much of the beginning is kept when the output is cut (the rest is the end).
const HEAD_CHARS: usize = 800;

/// The cleaned-up output of a failed build in `build_dir`.
pub(crate) fn clean(output: &str, build_dir: &Path) -> String {
    let mut text = output.replace(&format!("{}/", build_dir.display()), "");
    if let Ok(real) = build_dir.canonicalize() {
        text = text.replace(&format!("{}/", real.display()), "");
    }
    // componentize-py re-raises the guest's traceback inside its own; keep the guest's.
    if let Some(at) = text.find("AssertionError: Traceback") {
        text = text[at + "AssertionError: ".len()..].to_owned();
    }
    let lines: Vec<String> = text
        .lines()
        .filter(|line| !is_banner(line))
        // The guest's file system: componentize-py mounts the build at /0/, QuickJS at /;
        // cargo names the crate's file from the workspace root.
        .map(|line| {
            line.replace("\"/0/", "\"")
                .replace(" /skill.js:", " skill.js:")
                .replace(" /main.js:", " main.js:")
                .replace("skills/skill/src/lib.rs", "lib.rs")
                .replace("skill/src/lib.rs", "lib.rs")
        })
        .collect();
    let text = lines.join("\n").trim().to_owned();
    cut(&text)
}

/// componentize-qjs prints its settings before anything else; cargo its progress.
fn is_banner(line: &str) -> bool {
    let trimmed = line.trim_start();
    ["Compiling ", "Finished ", "Building "]
        .iter()
        .any(|p| line.starts_with("  ") && trimmed.starts_with(p))
        || line == "componentize-qjs"
        || ["WIT:", "JS:", "Output:"]
            .iter()
            .any(|p| line.starts_with("  ") && trimmed.starts_with(p))
        || trimmed == "Stubbing WASI imports..."
}

/// `text` cut to [`MAX_DIAGNOSTIC_CHARS`], keeping its beginning and, mostly, its end.
fn cut(text: &str) -> String {
    let count = text.chars().count();
    if count <= MAX_DIAGNOSTIC_CHARS {
        return text.to_owned();
    }
    let tail = MAX_DIAGNOSTIC_CHARS - HEAD_CHARS;
    let head: String = text.chars().take(HEAD_CHARS).collect();
    let end: String = text.chars().skip(count - tail).collect();
    format!(
        "{head}\n… ({} characters cut) …\n{end}",
        count - HEAD_CHARS - tail
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_python_syntax_error_names_the_line_of_skill_py() {
        let output = "Traceback (most recent call last):\n  File \"/opt/c/bin/componentize-py\", line 8, in <module>\n    sys.exit(script())\nAssertionError: Traceback (most recent call last):\n  File \"/0/app.py\", line 8, in <module>\n    import skill as _code\n  File \"/0/skill.py\", line 1\n    def reverse(text)\n                     ^\nSyntaxError: expected ':'\n\n\nCaused by:\n    SyntaxError: expected ':' (skill.py, line 1)\n";
        let clean = clean(output, Path::new("/tmp/build-1"));
        assert!(clean.starts_with("Traceback (most recent call last):\n  File \"app.py\""));
        assert!(clean.contains("File \"skill.py\", line 1\n"), "{clean}");
        assert!(!clean.contains("componentize-py"), "{clean}");
        assert!(clean.ends_with("SyntaxError: expected ':' (skill.py, line 1)"));
    }

    #[test]
    fn a_javascript_error_loses_the_banner_and_keeps_line_and_column() {
        let output = "componentize-qjs\n  WIT:    skill.wit\n  JS:     main.js\n  Output: skill.wasm\nStubbing WASI imports...\nError: : Failed to evaluate user JavaScript module: Failed to declare JavaScript module: Error: unexpected token in expression: '.'\n    at /skill.js:2:35\n";
        assert_eq!(
            clean(output, Path::new("/tmp/b")),
            "Error: : Failed to evaluate user JavaScript module: Failed to declare JavaScript \
             module: Error: unexpected token in expression: '.'\n    at skill.js:2:35"
        );
    }

    #[test]
    fn a_rust_error_points_into_lib_rs() {
        let output = "   Compiling skill_abc v0.1.0 (/d/skills/skill)\nerror[E0425]: cannot find value `y` in this scope\n --> skill/src/lib.rs:4:5\n  |\n4 |     y\n  |     ^ not found in this scope\n\nerror: could not compile `skill_abc` (lib) due to 1 previous error\n";
        let clean = clean(output, Path::new("/d"));
        assert!(
            clean.starts_with("error[E0425]: cannot find value `y`"),
            "{clean}"
        );
        assert!(clean.contains(" --> lib.rs:4:5"), "{clean}");
    }

    #[test]
    fn long_output_keeps_its_end() {
        let output = format!("{}\nSyntaxError: the real one", "noise ".repeat(5000));
        let clean = clean(&output, Path::new("/tmp/b"));
        assert!(clean.chars().count() < MAX_DIAGNOSTIC_CHARS + 100);
        assert!(clean.ends_with("SyntaxError: the real one"));
        assert!(clean.contains("characters cut"));
    }
}
