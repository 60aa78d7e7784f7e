//! Stored state carries a schema version: older versions load (and are written
//! back as the current one), newer versions and unknown keys are refused with
//! a clear error, and refused state is never overwritten.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use dynopilot::engine::{Invocation, Outcome};
use dynopilot::store::{
    DynamoDbStateStore, FileStateStore, StateStore, StoreError, SCHEMA_VERSION,
};
use serde_json::{json, Value};

use crate::aws::{aws, table};
use crate::helpers::*;

const KEY: &str = "shop-app#web";

fn run_over(path: &std::path::Path) -> dynopilot::engine::Report {
    let config = config(&one_formation(1, 4).replace("[state]\nkind = \"memory\"\n", ""));
    let engine = dynopilot::wiring::build_local(config, Some(path.to_path_buf())).expect("wires");
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(engine.invoke(&Invocation::at(now)))
}

#[test]
fn a_state_file_with_an_unknown_key_is_refused_and_left_untouched() {
    // GIVEN a state file whose formation entry is misspelled (read as empty
    // state and overwritten before the schema check)
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    let before = r#"{"formation":{"shop-app#web":{"version":3,"state":{}}}}"#;
    std::fs::write(&path, before).expect("write");
    // WHEN a run loads it
    let report = run_over(&path);
    // THEN the formation fails on load with the key named, and the file is as it was
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::Failed, "{f:?}");
    let error = format!("{:?}", f.errors);
    assert!(error.contains("unknown field `formation`"), "{error}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), before);
}

#[tokio::test]
async fn a_round_one_state_file_loads_and_is_written_back_with_the_current_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    let v1 = json!({"formations": {KEY: {"version": 4, "state": {
        "history": {"events": [{"at": "2026-11-30T11:00:00Z", "from": 1, "to": 2}]},
        "last_event": "evt-9"
    }}}});
    std::fs::write(&path, v1.to_string()).expect("write");
    let store = FileStateStore::new(&path);
    let loaded = store.load(KEY).await.expect("v1 loads").expect("present");
    assert_eq!(loaded.version, 4);
    assert_eq!(loaded.value.last_event.as_deref(), Some("evt-9"));
    store.save(KEY, &loaded.value, Some(4)).await.expect("save");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    assert_eq!(
        written["formations"][KEY]["state"]["schema"],
        json!(SCHEMA_VERSION)
    );
    assert_eq!(written["formations"][KEY]["version"], json!(5));
}

#[tokio::test]
async fn a_newer_schema_is_refused_naming_both_versions_in_the_file_and_in_dynamodb() {
    let newer = SCHEMA_VERSION + 1;
    // File store
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    let doc = json!({"formations": {KEY: {"version": 1, "state": {"schema": newer}}}}).to_string();
    std::fs::write(&path, &doc).expect("write");
    let err = FileStateStore::new(&path).load(KEY).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Corrupt(_)), "{text}");
    assert!(
        text.contains(&format!("schema version {newer}"))
            && text.contains(&format!("the {SCHEMA_VERSION} this dynopilot reads")),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&path).expect("read"), doc);

    // DynamoDB on moto: the same item shape the store writes, one version up
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    let store = Arc::new(DynamoDbStateStore::new(client.clone(), name.clone()));
    store
        .save(KEY, &Default::default(), None)
        .await
        .expect("first save");
    let mut item = client
        .get_item()
        .table_name(&name)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(KEY.into()))
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    let state = item["state"].as_s().expect("string").clone();
    assert!(
        state.contains(&format!("\"schema\":{SCHEMA_VERSION}")),
        "{state}"
    );
    item.insert(
        "state".into(),
        aws_sdk_dynamodb::types::AttributeValue::S(state.replace(
            &format!("\"schema\":{SCHEMA_VERSION}"),
            &format!("\"schema\":{newer}"),
        )),
    );
    client
        .put_item()
        .table_name(&name)
        .set_item(Some(item))
        .send()
        .await
        .expect("put");
    let err = store.load(KEY).await.unwrap_err().to_string();
    assert!(err.contains(&format!("schema version {newer}")), "{err}");
}
