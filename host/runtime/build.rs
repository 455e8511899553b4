//! Render every kind world's export signatures from `wit/` into a table, so
//! loading can compare a component's exports function by function and name
//! the one that is missing or mismatched. `signature.rs` renders wasmtime's
//! view of a component's types in the same notation.

use std::fmt::Write;
use std::path::PathBuf;

use mercato_types::Kind;
use wit_parser::{Resolve, Type, TypeDefKind, WorldItem};

fn main() {
    let mut table = String::from("&[\n");
    for folder in ["v0.1", "v0.2"] {
        let wit = PathBuf::from("../../wit").join(folder);
        println!("cargo:rerun-if-changed={}", wit.display());
        let mut resolve = Resolve::default();
        let (package, _) = resolve
            .push_dir(&wit)
            .unwrap_or_else(|e| panic!("wit/{folder} parses: {e}"));
        let name = &resolve.packages[package].name;
        let stamp = format!(
            "{}:{}@{}",
            name.namespace,
            name.name,
            name.version
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        for kind in Kind::ALL.map(Kind::as_str) {
            let world = resolve
                .select_world(&[package], Some(kind))
                .unwrap_or_else(|e| panic!("world {kind}: {e}"));
            for (key, item) in &resolve.worlds[world].exports {
                let WorldItem::Interface { id, .. } = item else {
                    continue;
                };
                let interface = resolve.name_world_key(key);
                for (name, func) in &resolve.interfaces[*id].functions {
                    let params: Vec<String> = func
                        .params
                        .iter()
                        .map(|p| format!("{}: {}", p.name, render(&resolve, &p.ty)))
                        .collect();
                    let mut signature = format!("func({})", params.join(", "));
                    if let Some(result) = &func.result {
                        write!(signature, " -> {}", render(&resolve, result)).expect("write");
                    }
                    writeln!(
                        table,
                        "    ({stamp:?}, {kind:?}, {interface:?}, {name:?}, {signature:?}),"
                    )
                    .expect("write");
                }
            }
        }
    }
    table.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("signatures.rs");
    std::fs::write(out, table).expect("write signatures.rs");
}

fn render(resolve: &Resolve, ty: &Type) -> String {
    let id = match ty {
        Type::Bool => return "bool".into(),
        Type::U8 => return "u8".into(),
        Type::U16 => return "u16".into(),
        Type::U32 => return "u32".into(),
        Type::U64 => return "u64".into(),
        Type::S8 => return "s8".into(),
        Type::S16 => return "s16".into(),
        Type::S32 => return "s32".into(),
        Type::S64 => return "s64".into(),
        Type::F32 => return "f32".into(),
        Type::F64 => return "f64".into(),
        Type::Char => return "char".into(),
        Type::String => return "string".into(),
        Type::ErrorContext => return "error-context".into(),
        Type::Id(id) => *id,
    };
    let r = |t: &Type| render(resolve, t);
    let opt = |t: &Option<Type>| t.as_ref().map_or("_".to_owned(), |t| render(resolve, t));
    match &resolve.types[id].kind {
        TypeDefKind::Type(t) => r(t),
        TypeDefKind::Record(rec) => format!(
            "record{{{}}}",
            rec.fields
                .iter()
                .map(|f| format!("{}: {}", f.name, r(&f.ty)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Variant(v) => format!(
            "variant{{{}}}",
            v.cases
                .iter()
                .map(|c| match &c.ty {
                    Some(t) => format!("{}({})", c.name, r(t)),
                    None => c.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Enum(e) => format!(
            "enum{{{}}}",
            e.cases
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Flags(f) => format!(
            "flags{{{}}}",
            f.flags
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Tuple(t) => format!(
            "tuple<{}>",
            t.types.iter().map(r).collect::<Vec<_>>().join(", ")
        ),
        TypeDefKind::Option(t) => format!("option<{}>", r(t)),
        TypeDefKind::Result(res) => format!("result<{}, {}>", opt(&res.ok), opt(&res.err)),
        TypeDefKind::List(t) => format!("list<{}>", r(t)),
        other => panic!("type {other:?} is not used by Mercato's WIT"),
    }
}
