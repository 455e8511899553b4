//! Export signatures in one notation on both sides: the kind worlds' expected
//! signatures (rendered from `wit/` by the build script) and a component's
//! actual ones (rendered here from wasmtime's types), so a mismatch can be
//! reported as "`book` is `func() -> u32`, the world expects `func(...)`".

use wasmtime::component::Type;
use wasmtime::component::types::ComponentFunc;

use mercato_types::WitVersion;

use crate::Kind;

/// (WIT package, kind, interface, function, signature) for every export of
/// every kind in every WIT version.
const SIGNATURES: &[(&str, &str, &str, &str, &str)] =
    include!(concat!(env!("OUT_DIR"), "/signatures.rs"));

/// The functions `kind`'s world requires in `version`: (interface,
/// function, signature).
pub fn expected(
    kind: Kind,
    version: WitVersion,
) -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    SIGNATURES
        .iter()
        .filter(move |(w, k, ..)| *w == version.package() && *k == kind.as_str())
        .map(|(_, _, i, f, s)| (*i, *f, *s))
}

/// A component function's signature in the notation of [`expected`].
pub fn render_func(func: &ComponentFunc) -> String {
    let params: Vec<(String, Type)> = func.params().map(|(n, t)| (n.to_owned(), t)).collect();
    render_signature(&params, func.results().next().as_ref())
}

/// A signature from its parameters and result, in the same notation
/// (`func(session-id: string) -> result<…>`).
pub fn render_signature(params: &[(String, Type)], result: Option<&Type>) -> String {
    let params: Vec<String> = params
        .iter()
        .map(|(n, t)| format!("{n}: {}", render(t)))
        .collect();
    let mut signature = format!("func({})", params.join(", "));
    if let Some(result) = result {
        signature.push_str(" -> ");
        signature.push_str(&render(result));
    }
    signature
}

/// A type in the notation of [`expected`].
pub fn render(ty: &Type) -> String {
    let opt = |t: Option<Type>| t.map_or("_".to_owned(), |t| render(&t));
    match ty {
        Type::Bool => "bool".into(),
        Type::U8 => "u8".into(),
        Type::U16 => "u16".into(),
        Type::U32 => "u32".into(),
        Type::U64 => "u64".into(),
        Type::S8 => "s8".into(),
        Type::S16 => "s16".into(),
        Type::S32 => "s32".into(),
        Type::S64 => "s64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", render(&l.ty())),
        Type::Record(r) => format!(
            "record{{{}}}",
            r.fields()
                .map(|f| format!("{}: {}", f.name, render(&f.ty)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Tuple(t) => format!(
            "tuple<{}>",
            t.types().map(|t| render(&t)).collect::<Vec<_>>().join(", ")
        ),
        Type::Variant(v) => format!(
            "variant{{{}}}",
            v.cases()
                .map(|c| match c.ty {
                    Some(t) => format!("{}({})", c.name, render(&t)),
                    None => c.name.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Enum(e) => format!("enum{{{}}}", e.names().collect::<Vec<_>>().join(", ")),
        Type::Flags(f) => format!("flags{{{}}}", f.names().collect::<Vec<_>>().join(", ")),
        Type::Option(o) => format!("option<{}>", render(&o.ty())),
        Type::Result(r) => format!("result<{}, {}>", opt(r.ok()), opt(r.err())),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_table_in_every_version() {
        for version in WitVersion::ALL {
            for kind in Kind::ALL {
                let functions: Vec<_> = expected(kind, version).collect();
                assert!(functions.iter().any(|(_, f, _)| *f == "describe"), "{kind}");
                assert!(
                    functions
                        .iter()
                        .any(|(i, ..)| *i == kind.interface_in(version)),
                    "{kind} {version}"
                );
                // 0.2 adds export and erasure to every kind; 0.1 has neither.
                let forgets = functions.iter().any(|(_, f, _)| *f == "forget-customer");
                assert_eq!(forgets, version >= WitVersion::V0_2, "{kind} {version}");
            }
        }
        let book = expected(Kind::LivestreamBooking, WitVersion::V0_2)
            .find(|(_, f, _)| *f == "book")
            .unwrap()
            .2;
        assert!(
            book.starts_with(
                "func(session-id: string, customer: string) -> result<record{id: string,"
            ),
            "{book}"
        );
    }
}
