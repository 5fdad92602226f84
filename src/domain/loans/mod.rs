//! The loan domain as pure rules: no SQL and no HTTP. The services load rows and hand them
//! over; the handlers turn a [`LoanError`] into the 400 envelope
//! `{"code", "message", "data": null, "details"}`.
//!
//! - [`workflow`]: loan statuses, stage types and statuses, document types; [`workflow::transition`]
//!   (the state machine) and [`workflow::stage_transition`] (the stage lifecycle) return the new
//!   state with its side effects in legacy order, or the exact legacy refusal.
//! - [`quote`]: the quote engine over the stock engine's output (vested shares per grant,
//!   reservations, eligibility) and the loan policy.
//! - [`schedule`]: base, remaining and what-if schedules; the repayment waterfall.
//! - [`repayments`]: payment status at a date, the amounts of the next repayment, completion.
//! - [`export`]: the CSV layouts of the schedule exports.
//! - [`pbgc`]: the PBGC mid-term rate page parser.
//!
//! Arithmetic reproduces the legacy service's Python `Decimal` results and string forms
//! ([`crate::domain::decimal::PyDec`]); nothing here uses floating point.

/// Declares an enum whose variants are the legacy strings of a value set, with `ALL` in the
/// legacy order, `as_str`, `parse` (exact, case-sensitive like the legacy enums) and serde as
/// the string.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            /// Every value, in the legacy declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// The value whose legacy string is exactly `text`.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }

            /// pydantic's enum message: `Input should be 'A', 'B' or 'C'`.
            pub fn expected_message() -> String {
                let quoted: Vec<String> =
                    Self::ALL.iter().map(|v| format!("'{}'", v.as_str())).collect();
                match quoted.split_last() {
                    Some((last, rest)) if !rest.is_empty() => {
                        format!("Input should be {} or {}", rest.join(", "), last)
                    }
                    Some((last, _)) => format!("Input should be {last}"),
                    None => String::from("Input should be a valid value"),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text).ok_or_else(Self::expected_message)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text).ok_or_else(|| serde::de::Error::custom(Self::expected_message()))
            }
        }
    };
}

pub mod dashboard;
pub mod error;
pub mod export;
pub mod pbgc;
pub mod quote;
pub mod repayments;
pub mod schedule;
pub mod stage_documents;
pub mod terms;
pub mod wire;
pub mod workflow;

pub use error::LoanError;
