//! The interactive side of `sole setup-env` (dialoguer). Every answer is validated as it is
//! typed and asked again with the reason.

use std::path::Path;

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, Password, Select};

use super::Ask;
use super::fields::{self, Field, Kind};
use crate::cli::Profile;

pub struct Wizard {
    theme: ColorfulTheme,
    pub profile: Profile,
    /// Defaults found on this machine (the local PostgreSQL), ahead of the fields' own.
    pub defaults: std::collections::BTreeMap<String, String>,
}

impl Wizard {
    pub fn new() -> Self {
        Self {
            theme: ColorfulTheme::default(),
            profile: Profile::Dev,
            defaults: std::collections::BTreeMap::new(),
        }
    }

    pub fn choose_profile(&mut self) -> anyhow::Result<Profile> {
        let items = [
            "Development (writes .env, generates dev keys)",
            "Production (writes .env.prod for Secret Manager)",
        ];
        let choice = Select::with_theme(&self.theme)
            .with_prompt("Choose environment")
            .items(items)
            .default(0)
            .interact()?;
        Ok(if choice == 0 {
            Profile::Dev
        } else {
            Profile::Prod
        })
    }

    pub fn intro(&self, output: &Path) {
        println!(
            "Preparing {}. Press Enter to keep the suggested value.",
            output.display()
        );
    }

    pub fn confirm(&mut self, prompt: &str, default: bool) -> anyhow::Result<bool> {
        Ok(Confirm::with_theme(&self.theme)
            .with_prompt(prompt)
            .default(default)
            .interact()?)
    }
}

impl Default for Wizard {
    fn default() -> Self {
        Self::new()
    }
}

/// Shows a JSON origin list the way it is typed.
fn display_current(kind: Kind, value: &str) -> String {
    if kind == Kind::Origins
        && let Ok(items) = serde_json::from_str::<Vec<String>>(value)
    {
        return items.join(",");
    }
    value.to_owned()
}

impl Ask for Wizard {
    fn value(
        &mut self,
        field: &Field,
        current: Option<&str>,
        min_password: usize,
    ) -> anyhow::Result<Option<String>> {
        let profile = self.profile;
        let validate = move |raw: &str| fields::validate(field.kind, profile, min_password, raw);
        let suggestion = current
            .map(|c| display_current(field.kind, c))
            .or_else(|| self.defaults.get(field.key).cloned())
            .or_else(|| field.default_for(profile).map(str::to_owned))
            .filter(|s| validate(s).is_ok());
        let prompt = format!("{} [{}]", field.prompt, field.key);
        if field.kind == Kind::Password {
            let keep = suggestion.is_some();
            let prompt = if keep {
                format!("{prompt} (Enter keeps the current or default one)")
            } else {
                prompt
            };
            loop {
                let typed = Password::with_theme(&self.theme)
                    .with_prompt(&prompt)
                    .allow_empty_password(keep)
                    .interact()?;
                if typed.is_empty() {
                    return Ok(suggestion);
                }
                match validate(&typed) {
                    Ok(v) => {
                        let again = Password::with_theme(&self.theme)
                            .with_prompt("Repeat it")
                            .interact()?;
                        if again == typed {
                            return Ok(Some(v));
                        }
                        eprintln!("  the two entries differ; try again");
                    }
                    Err(reason) => eprintln!("  {reason}"),
                }
            }
        }
        let mut input = Input::<String>::with_theme(&self.theme).with_prompt(prompt);
        if let Some(s) = &suggestion {
            input = input.default(s.clone());
        }
        let typed = input
            .validate_with(|s: &String| validate(s).map(|_| ()))
            .interact_text()?;
        Ok(Some(validate(&typed).map_err(anyhow::Error::msg)?))
    }

    fn confirm(&mut self, prompt: &str, default: bool) -> anyhow::Result<bool> {
        Wizard::confirm(self, prompt, default)
    }

    fn select(&mut self, prompt: &str, items: &[&str], default: usize) -> anyhow::Result<usize> {
        Ok(Select::with_theme(&self.theme)
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact()?)
    }

    fn interactive(&self) -> bool {
        true
    }
}
