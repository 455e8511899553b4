//! The console's words: one catalog per language (`i18n/<tag>.json`, in the
//! binary), Simplified Chinese first. Templates hold keys, never text.

use std::collections::HashMap;
use std::sync::OnceLock;

/// A console language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Simplified Chinese, the default.
    #[default]
    ZhCn,
    /// English.
    En,
}

impl Lang {
    /// Every language, the default first.
    pub const ALL: [Lang; 2] = [Lang::ZhCn, Lang::En];

    /// The BCP 47 tag (`zh-CN`, `en`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The language a tag names, if the console speaks it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag == "zh" || tag.starts_with("zh-") {
            Some(Lang::ZhCn)
        } else if tag == "en" || tag.starts_with("en-") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The first language of an `Accept-Language` header the console
    /// speaks, by the header's order of preference.
    pub fn negotiate(accept_language: &str) -> Option<Lang> {
        let mut offered: Vec<(f32, usize, &str)> = accept_language
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut bits = part.split(';');
                let tag = bits.next()?.trim();
                let q = bits
                    .find_map(|b| b.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((q, i, tag))
            })
            .collect();
        offered.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        offered
            .into_iter()
            .find_map(|(_, _, tag)| Lang::from_tag(tag))
    }

    fn source(self) -> &'static str {
        match self {
            Lang::ZhCn => include_str!("../../i18n/zh-CN.json"),
            Lang::En => include_str!("../../i18n/en.json"),
        }
    }

    /// The language's catalog.
    pub fn catalog(self) -> &'static Catalog {
        static CATALOGS: OnceLock<[Catalog; 2]> = OnceLock::new();
        let all = CATALOGS.get_or_init(|| Lang::ALL.map(Catalog::load));
        &all[Lang::ALL.iter().position(|l| *l == self).unwrap_or(0)]
    }
}

/// The words of one language, by key.
#[derive(Debug)]
pub struct Catalog {
    words: HashMap<String, String>,
}

impl Catalog {
    fn load(lang: Lang) -> Catalog {
        // The catalogs are compiled in and checked by the tests below; a
        // broken one shows its keys rather than failing a page.
        let words = serde_json::from_str(lang.source()).unwrap_or_default();
        Catalog { words }
    }

    /// The words for `key`, or the key itself when the catalog lacks it.
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.words.get(key).map_or(key, String::as_str)
    }

    /// Whether the catalog has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.words.contains_key(key)
    }

    /// Every key.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.words.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_has_the_same_keys_and_every_key_a_template_uses() {
        let zh = Lang::ZhCn.catalog();
        let en = Lang::En.catalog();
        assert!(zh.keys().count() > 50);
        for key in zh.keys() {
            assert!(en.has(key), "en lacks `{key}`");
        }
        for key in en.keys() {
            assert!(zh.has(key), "zh-CN lacks `{key}`");
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for used in text.split("t(\"").skip(1) {
                let key = used.split('"').next().unwrap();
                assert!(zh.has(key), "a template uses `{key}`, which no catalog has");
            }
        }
    }

    #[test]
    fn accept_language_is_honoured_by_preference() {
        assert_eq!(Lang::negotiate("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(
            Lang::negotiate("fr;q=1, zh-TW;q=0.8, en;q=0.5"),
            Some(Lang::ZhCn)
        );
        assert_eq!(Lang::negotiate("en;q=0.4, zh-CN;q=0.9"), Some(Lang::ZhCn));
        assert_eq!(Lang::negotiate("fr, de"), None);
    }
}
