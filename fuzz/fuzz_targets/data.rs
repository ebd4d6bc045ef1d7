//! Any bytes as a data file: the CSV, NPY and IDX loaders return a data set or an error.
//! The first byte picks the loader; NPY and IDX read the rest as features, with a valid
//! labels file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nnc_runtime::data::{load_csv, load_idx, load_npy, CsvOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("nnc-fuzz-data-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let (a, b) = (dir.join("a"), dir.join("b"));
    if std::fs::write(&a, rest).is_err() {
        return;
    }
    match which % 3 {
        0 => {
            let _ = load_csv(&a, &CsvOptions::default());
        }
        1 => {
            // Labels: a valid NPY of four int64 zeros.
            let mut y = b"\x93NUMPY\x01\x00".to_vec();
            let header = "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }";
            let padded = format!("{header:<117}\n");
            y.extend((padded.len() as u16).to_le_bytes());
            y.extend(padded.bytes());
            y.extend([0u8; 32]);
            let _ = std::fs::write(&b, y);
            let _ = load_npy(&a, &b);
        }
        _ => {
            let _ = std::fs::write(&b, [0, 0, 8, 1, 0, 0, 0, 4, 0, 1, 2, 1]);
            let _ = load_idx(&a, &b);
        }
    }
});
