//! The S3 server the tests run against, named by the environment
//! (`MWSR_S3_ENDPOINT`, `MWSR_S3_BUCKET`, the usual `AWS_*`; `.ci/run`
//! starts one on 127.0.0.1).

use std::sync::Arc;

use mwsr::segments::{Objects, Storage};

/// The server's storage under `prefix`, or `None` (said, for `test`) when
/// no server is configured. Under CI a missing server is a failure, never
/// a skip.
pub fn server(test: &str, prefix: &str) -> Option<Arc<dyn Storage>> {
    let (Ok(endpoint), Ok(bucket)) = (
        std::env::var("MWSR_S3_ENDPOINT"),
        std::env::var("MWSR_S3_BUCKET"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: CI must set MWSR_S3_ENDPOINT and MWSR_S3_BUCKET (see .ci/run)"
        );
        eprintln!("{test}: no S3 server configured (MWSR_S3_ENDPOINT, MWSR_S3_BUCKET): skipped");
        return None;
    };
    let storage = Objects::s3()
        .endpoint(endpoint)
        .bucket(bucket)
        .allow_http(true)
        .prefix(prefix)
        .build()
        .expect("the S3 settings");
    Some(Arc::new(storage))
}
