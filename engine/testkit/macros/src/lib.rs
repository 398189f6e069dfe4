//! `#[each_backend]`: one test function becomes one test per storage backend, as tantivy runs
//! its directory tests on every `Directory` and ripgrep's `rgtest!` wraps each test. The
//! function `fn name() { … }` becomes a module `name` with the tests `name::redb`,
//! `name::memory` and `name::postgres` (run when `RAPPORT_TEST_POSTGRES` names a server); each runs the body with that backend chosen for every database the
//! fixtures of `rapport_testkit` make (`cargo test name` runs both, `cargo test memory` all of
//! one backend).

use proc_macro::TokenStream;
use quote::quote;
use syn::{ItemFn, parse_macro_input};

/// Runs the test once on each backend (see the crate's documentation).
#[proc_macro_attribute]
pub fn each_backend(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[each_backend] takes no arguments",
        )
        .to_compile_error()
        .into();
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = parse_macro_input!(item as ItemFn);
    if !sig.inputs.is_empty() {
        return syn::Error::new_spanned(
            &sig.inputs,
            "an #[each_backend] test takes no parameters: the fixtures pick the backend",
        )
        .to_compile_error()
        .into();
    }
    let name = &sig.ident;
    let output = &sig.output;
    let variants = [("redb", quote!(Redb)), ("memory", quote!(Memory))].map(|(test, kind)| {
        let test = proc_macro2::Ident::new(test, name.span());
        quote! {
            #(#attrs)*
            #[test]
            fn #test() #output {
                ::rapport_testkit::on_backend(::rapport_testkit::BackendKind::#kind, || #block)
            }
        }
    });
    // On PostgreSQL when a test server is named (`RAPPORT_TEST_POSTGRES`; `.ci/run` starts
    // one), else said to be skipped.
    let postgres = proc_macro2::Ident::new("postgres", name.span());
    let postgres = quote! {
        #(#attrs)*
        #[test]
        fn #postgres() #output {
            if ::rapport_testkit::postgres_url().is_none() {
                eprintln!("skipped on PostgreSQL: RAPPORT_TEST_POSTGRES names no server");
                return;
            }
            ::rapport_testkit::on_backend(::rapport_testkit::BackendKind::Postgres, || #block)
        }
    };
    quote! {
        #vis mod #name {
            #[allow(unused_imports, reason = "the test body may not use every import of its file")]
            use super::*;
            #(#variants)*
            #postgres
        }
    }
    .into()
}
