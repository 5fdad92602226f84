//! The one generator of random secrets drawn from an alphabet: SECRET_KEY and FERNET_KDF_SALT,
//! TOTP secrets, recovery codes, temporary and development passwords. Keeping the draw in one
//! place keeps one answer to "which generator, and is every character equally likely".

use rand::RngExt as _;

/// `len` characters, each drawn independently and uniformly from `alphabet` by the thread-local
/// CSPRNG (`rand::rng()`, seeded from the OS). The alphabets are constants of their callers and
/// never empty.
pub fn string_from(alphabet: &str, len: usize) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut rng = rand::rng();
    (0..len)
        .map(|_| chars[rng.random_range(0..chars.len())])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_have_the_length_asked_and_only_the_alphabet() {
        let s = string_from("ABC123", 40);
        assert_eq!(s.chars().count(), 40);
        assert!(s.chars().all(|c| "ABC123".contains(c)), "{s}");
        assert_eq!(string_from("ABC", 0), "");
        assert_ne!(string_from("ab", 64), string_from("ab", 64));
    }

    #[test]
    fn every_character_of_the_alphabet_is_drawn() {
        // 32 characters and 4096 draws: the chance that one is never drawn is below 1e-50.
        let alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let s = string_from(alphabet, 4096);
        for c in alphabet.chars() {
            assert!(s.contains(c), "{c} never drawn");
        }
    }

    #[test]
    fn non_ascii_alphabets_yield_whole_characters() {
        let s = string_from("éß", 16);
        assert_eq!(s.chars().count(), 16);
        assert!(s.chars().all(|c| c == 'é' || c == 'ß'));
    }
}
