//! The shared Groovy conformance corpus: every case must give Groovy 4's result, stdout and
//! variables, and fail where Groovy fails.

use crate::common::{run_corpus, shared_dir};

#[test]
fn every_shared_conformance_case_matches_groovy() {
    let n = run_corpus(&shared_dir().join("conformance/groovy"));
    assert!(n >= 100, "expected the whole corpus, found {n} cases");
}
