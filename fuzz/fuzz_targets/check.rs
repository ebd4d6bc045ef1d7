//! Any bytes: the checker returns a program or diagnostics, and rendering them works.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let checked = nnc::check_text("fuzz.nn", &text, &|_| Err(std::io::ErrorKind::NotFound.into()));
    let _ = nnc::diagnostics::render(&checked.diags, &checked.sources, Default::default());
    for net in &checked.program.networks {
        let _ = nnc::summary::render(&nnc::summary::summarize(net));
    }
});
