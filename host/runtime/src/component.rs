//! Turning bytes into a component ready to run: check them before trusting
//! them (size, header, WIT stamp), compile or fetch the compilation from the
//! disk cache, link the host interfaces, type-check the exports against the
//! kind's world, and index every exported function for fast lookup.

use std::collections::BTreeMap;

use mercato_types::WitVersion;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker, Type};

use crate::cache::CompileCache;
use crate::sandbox::Sandbox;
use crate::signature;
use crate::{Kind, LoadError};

/// The custom section the SDK stamps with the WIT package it built against.
pub const WIT_SECTION: &str = "mercato-wit";

/// One exported function: where it is and what it takes and returns.
#[derive(Debug, Clone)]
pub struct Function {
    /// Its WIT name (`book`, `validate-settings`).
    pub name: String,
    /// The interface exporting it.
    pub interface: &'static str,
    /// Parameter names and types, in order.
    pub params: Vec<(String, Type)>,
    /// Result types (zero or one).
    pub results: Vec<Type>,
    pub(crate) index: ComponentExportIndex,
}

/// A component compiled, linked and checked against its kind's world.
pub struct LoadedComponent {
    kind: Kind,
    wit: WitVersion,
    digest: String,
    pub(crate) pre: InstancePre<Sandbox>,
    functions: BTreeMap<String, Function>,
    from_cache: bool,
}

impl std::fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedComponent")
            .field("kind", &self.kind)
            .field("wit", &self.wit)
            .field("digest", &self.digest)
            .field("from_cache", &self.from_cache)
            .finish_non_exhaustive()
    }
}

impl LoadedComponent {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The WIT version it was built against.
    pub fn wit(&self) -> WitVersion {
        self.wit
    }

    /// sha256 of its bytes, lowercase hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Whether the compilation came from the disk cache.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// The exported function called `name`.
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.get(name)
    }

    /// Every exported function, by name.
    pub fn functions(&self) -> impl Iterator<Item = &Function> {
        self.functions.values()
    }
}

/// sha256 of `bytes` as lowercase hex.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Check `bytes` before trusting them, then compile them (or take the
/// compilation from `cache`), link them and index their exports against
/// `kind`'s world. Instantiating to confirm the types is the caller's step.
pub(crate) fn prepare(
    engine: &Engine,
    linker: &Linker<Sandbox>,
    cache: Option<&CompileCache>,
    max_bytes: usize,
    kind: Kind,
    bytes: &[u8],
    digest: &str,
) -> Result<LoadedComponent, LoadError> {
    if bytes.len() > max_bytes {
        return Err(LoadError::TooLarge {
            size: bytes.len(),
            max: max_bytes,
        });
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(LoadError::CoreModule);
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err(LoadError::NotWasm);
    }
    check_shape(bytes)?;
    let stamped = match wit_stamp(bytes)? {
        Some(found) => {
            Some(
                WitVersion::from_package(&found).ok_or_else(|| LoadError::UnsupportedWit {
                    found,
                    supported: WitVersion::names(),
                })?,
            )
        }
        None => None,
    };

    let digest = digest.to_owned();
    let cached = cache.and_then(|c| c.get(engine, &digest));
    let from_cache = cached.is_some();
    let component = match cached {
        Some(component) => component,
        None => {
            let component = Component::from_binary(engine, bytes)
                .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
            if let Some(cache) = cache {
                cache.put(&digest, &component)?;
            }
            component
        }
    };

    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| LoadError::UnknownImport(format!("{e:#}")))?;
    // A component without a stamp (not built with the SDK) is of the
    // version whose kind interface it exports.
    let wit = stamped.unwrap_or_else(|| exported_version(engine, &component, kind));
    // Name the first missing or mismatched function here; the caller lets
    // wasmtime's own typed check confirm the whole world on a real instance.
    let functions = index_functions(engine, &component, kind, wit)?;
    Ok(LoadedComponent {
        kind,
        wit,
        digest,
        pre,
        functions,
        from_cache,
    })
}

/// Largest body of one wasm function the host compiles. Compile time grows
/// faster than linearly with a function's size; real component code (serde
/// included) stays far below this.
pub const MAX_FUNCTION_BYTES: usize = 1 << 20;
/// Most locals one wasm function may declare.
pub const MAX_FUNCTION_LOCALS: u32 = 50_000;
/// Most functions in all of a component's modules.
pub const MAX_FUNCTIONS: usize = 100_000;

/// Refuse code whose shape alone would make compiling it slow or large,
/// before the compiler sees it.
fn check_shape(bytes: &[u8]) -> Result<(), LoadError> {
    let mut functions = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| LoadError::Invalid(e.to_string()))?;
        if let wasmparser::Payload::CodeSectionEntry(body) = payload {
            functions += 1;
            let size = body.range().len();
            if size > MAX_FUNCTION_BYTES {
                return Err(LoadError::TooComplex(format!(
                    "function {functions} has a body of {size} bytes; the limit is {MAX_FUNCTION_BYTES}"
                )));
            }
            let mut locals = 0u32;
            let reader = body
                .get_locals_reader()
                .map_err(|e| LoadError::Invalid(e.to_string()))?;
            for local in reader {
                let (count, _) = local.map_err(|e| LoadError::Invalid(e.to_string()))?;
                locals = locals.saturating_add(count);
            }
            if locals > MAX_FUNCTION_LOCALS {
                return Err(LoadError::TooComplex(format!(
                    "function {functions} declares {locals} locals; the limit is {MAX_FUNCTION_LOCALS}"
                )));
            }
            if functions > MAX_FUNCTIONS {
                return Err(LoadError::TooComplex(format!(
                    "the component has more than {MAX_FUNCTIONS} functions"
                )));
            }
        }
    }
    Ok(())
}

/// The `mercato-wit` stamp, if the component carries one (in any nested module).
fn wit_stamp(bytes: &[u8]) -> Result<Option<String>, LoadError> {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| LoadError::Invalid(e.to_string()))?;
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == WIT_SECTION
        {
            return Ok(Some(String::from_utf8_lossy(section.data()).into_owned()));
        }
    }
    Ok(None)
}

/// The newest WIT version whose interface of `kind` the component exports;
/// the current one when it exports none (the check then names what is
/// missing in the current version's terms).
fn exported_version(engine: &Engine, component: &Component, kind: Kind) -> WitVersion {
    let ty = component.component_type();
    WitVersion::ALL
        .into_iter()
        .find(|v| {
            let wanted = kind.interface_in(*v);
            ty.exports(engine).any(|(name, _)| name == wanted)
        })
        .unwrap_or(WitVersion::CURRENT)
}

fn index_functions(
    engine: &wasmtime::Engine,
    component: &Component,
    kind: Kind,
    wit: WitVersion,
) -> Result<BTreeMap<String, Function>, LoadError> {
    let ty = component.component_type();
    let wrong = |detail: String| LoadError::WrongWorld { kind, detail };
    let mut functions = BTreeMap::new();
    for (interface, name, expected) in signature::expected(kind, wit) {
        let instance = ty
            .exports(engine)
            .find(|(n, _)| *n == interface)
            .map(|(_, export)| export.ty);
        let Some(ComponentItem::ComponentInstance(instance)) = instance else {
            return Err(wrong(format!("it does not export `{interface}`")));
        };
        let func = instance
            .exports(engine)
            .find(|(n, _)| *n == name)
            .map(|(_, export)| export.ty);
        let Some(ComponentItem::ComponentFunc(func)) = func else {
            return Err(wrong(format!(
                "`{interface}` has no function `{name}` (expected `{expected}`)"
            )));
        };
        let found = signature::render_func(&func);
        if found != expected {
            return Err(wrong(format!(
                "`{interface}#{name}` is `{found}`, but the world expects `{expected}`"
            )));
        }
        let instance_index = component
            .get_export_index(None, interface)
            .ok_or_else(|| wrong(format!("it does not export `{interface}`")))?;
        let index = component
            .get_export_index(Some(&instance_index), name)
            .ok_or_else(|| wrong(format!("`{interface}` has no function `{name}`")))?;
        functions.insert(
            name.to_owned(),
            Function {
                name: name.to_owned(),
                interface,
                params: func.params().map(|(n, t)| (n.to_owned(), t)).collect(),
                results: func.results().collect(),
                index,
            },
        );
    }
    Ok(functions)
}
