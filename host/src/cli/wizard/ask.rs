//! The questions of `openlegion setup`, asked on the terminal (dialoguer) or answered
//! without asking: with `--yes` (or a flag that answers it) every question takes its
//! default, and a question about replacing something that exists takes `--replace`.

use anyhow::Result;
use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, Password, Select};

pub(super) struct Ask {
    interactive: bool,
    /// The answer to "replace X?" when not interactive.
    replace: bool,
    theme: ColorfulTheme,
}

impl std::fmt::Debug for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ask")
            .field("interactive", &self.interactive)
            .field("replace", &self.replace)
            .finish_non_exhaustive()
    }
}

impl Ask {
    pub(super) fn new(interactive: bool, replace: bool) -> Self {
        Self {
            interactive,
            replace,
            theme: ColorfulTheme::default(),
        }
    }

    pub(super) fn interactive(&self) -> bool {
        self.interactive
    }

    /// One of `items`; `default` unless asked.
    pub(super) fn select(&self, prompt: &str, items: &[String], default: usize) -> Result<usize> {
        if !self.interactive {
            return Ok(default);
        }
        Ok(Select::with_theme(&self.theme)
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact()?)
    }

    /// A line of text; `default` unless asked (an empty answer is `default` too).
    pub(super) fn input(&self, prompt: &str, default: &str) -> Result<String> {
        if !self.interactive {
            return Ok(default.to_owned());
        }
        let answer: String = Input::with_theme(&self.theme)
            .with_prompt(prompt)
            .default(default.to_owned())
            .show_default(!default.is_empty())
            .allow_empty(true)
            .interact_text()?;
        Ok(answer.trim().to_owned())
    }

    /// A secret, typed or pasted without echo; `None` when not asked or left empty.
    pub(super) fn secret(&self, prompt: &str) -> Result<Option<String>> {
        if !self.interactive {
            return Ok(None);
        }
        let answer = Password::with_theme(&self.theme)
            .with_prompt(prompt)
            .allow_empty_password(true)
            .interact()?;
        let answer = answer.trim().to_owned();
        Ok((!answer.is_empty()).then_some(answer))
    }

    /// Yes or no; `default` unless asked.
    pub(super) fn confirm(&self, prompt: &str, default: bool) -> Result<bool> {
        if !self.interactive {
            return Ok(default);
        }
        Ok(Confirm::with_theme(&self.theme)
            .with_prompt(prompt)
            .default(default)
            .interact()?)
    }

    /// Whether to replace something that exists (`what`): asked with "no" as the default;
    /// `--replace` when not interactive.
    pub(super) fn replace(&self, what: &str) -> Result<bool> {
        if !self.interactive {
            return Ok(self.replace);
        }
        self.confirm(&format!("{what} exists. Replace it?"), false)
    }
}
