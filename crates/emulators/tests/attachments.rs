//! Attachment API: raw and multipart uploads, metadata, query, download, delete.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest;

use crate::common::{self, Emu, USER, id};

async fn upload(
    emu: &Emu,
    path_and_query: &str,
    content_type: Option<&str>,
    bytes: &[u8],
) -> reqwest::Response {
    let mut req = emu.req(Method::POST, path_and_query).body(bytes.to_vec());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.send().await.expect("request")
}

#[tokio::test]
async fn raw_upload_stores_the_file_with_size_hash_and_links() {
    let emu = common::start().await;
    let inc = id(&emu.create("incident", json!({})).await);
    let bytes = b"hello, attachment";
    let r = upload(
        &emu,
        &format!(
            "/api/now/attachment/file?table_name=incident&table_sys_id={inc}&file_name=hello.txt"
        ),
        Some("text/plain"),
        bytes,
    )
    .await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().expect("ascii").to_owned();
    let meta: Value = r.json().await.expect("json");
    let meta = &meta["result"];
    let att = id(meta);
    assert!(location.ends_with(&format!("/api/now/attachment/{att}")));
    assert_eq!(meta["file_name"], "hello.txt");
    assert_eq!(meta["content_type"], "text/plain");
    assert_eq!(meta["size_bytes"], bytes.len().to_string());
    assert_eq!(meta["table_name"], "incident");
    assert_eq!(meta["table_sys_id"], inc.as_str());
    assert_eq!(meta["sys_created_by"], USER);
    let hash: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(meta["hash"], hash.as_str());
    let link = meta["download_link"].as_str().expect("link").to_owned();
    assert!(link.ends_with(&format!("/api/now/attachment/{att}/file")));

    let r = emu
        .client
        .get(&link)
        .basic_auth(USER, Some(common::PASSWORD))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert!(r.headers().get("x-attachment-metadata").is_some());
    assert_eq!(r.bytes().await.expect("body").as_ref(), bytes);

    let one = emu.get_json(&format!("/api/now/attachment/{att}")).await;
    assert_eq!(one["result"]["file_name"], "hello.txt");
    let list = emu
        .get_json(&format!(
            "/api/now/attachment?sysparm_query=table_name=incident%5Etable_sys_id={inc}"
        ))
        .await;
    assert_eq!(list["result"].as_array().expect("array").len(), 1);
    let via_table = emu.get_json("/api/now/table/sys_attachment").await;
    assert_eq!(via_table["result"][0]["sys_id"], att.as_str());

    let r = emu
        .req(Method::DELETE, &format!("/api/now/attachment/{att}"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 204);
    assert_eq!(
        emu.get(&format!("/api/now/attachment/{att}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        emu.get(&format!("/api/now/attachment/{att}/file"))
            .await
            .status(),
        404
    );
    emu.stop().await;
}

#[tokio::test]
async fn raw_upload_needs_its_parameters_a_content_type_and_an_existing_record() {
    let emu = common::start().await;
    let inc = id(&emu.create("incident", json!({})).await);
    let r = upload(
        &emu,
        &format!("/api/now/attachment/file?table_name=incident&table_sys_id={inc}"),
        Some("text/plain"),
        b"x",
    )
    .await;
    assert_eq!(r.status(), 400, "file_name missing");
    let r = upload(
        &emu,
        &format!("/api/now/attachment/file?table_name=incident&table_sys_id={inc}&file_name=a"),
        None,
        b"x",
    )
    .await;
    assert_eq!(r.status(), 400, "Content-Type missing");
    let missing = "0123456789abcdef0123456789abcdef";
    let r = upload(
        &emu,
        &format!("/api/now/attachment/file?table_name=incident&table_sys_id={missing}&file_name=a"),
        Some("text/plain"),
        b"x",
    )
    .await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "failure");
    emu.stop().await;
}

#[tokio::test]
async fn multipart_upload_takes_table_fields_then_the_file() {
    let emu = common::start().await;
    let inc = id(&emu.create("incident", json!({})).await);
    let part = reqwest::multipart::Part::bytes(b"PNGDATA".to_vec())
        .file_name("shot.png")
        .mime_str("image/png")
        .expect("mime");
    let form = reqwest::multipart::Form::new()
        .text("table_name", "incident")
        .text("table_sys_id", inc.clone())
        .part("uploadFile", part);
    let r = emu
        .req(Method::POST, "/api/now/attachment/upload")
        .multipart(form)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 201);
    let meta: Value = r.json().await.expect("json");
    assert_eq!(meta["result"]["file_name"], "shot.png");
    assert_eq!(meta["result"]["content_type"], "image/png");
    assert_eq!(meta["result"]["size_bytes"], "7");
    emu.stop().await;
}

#[tokio::test]
async fn deleting_a_record_deletes_its_attachments() {
    let emu = common::start().await;
    let inc = id(&emu.create("incident", json!({})).await);
    let r = upload(
        &emu,
        &format!("/api/now/attachment/file?table_name=incident&table_sys_id={inc}&file_name=a"),
        Some("text/plain"),
        b"x",
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = emu
        .req(Method::DELETE, &format!("/api/now/table/incident/{inc}"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 204);
    let list = emu.get_json("/api/now/attachment").await;
    assert_eq!(list["result"], json!([]));
    emu.stop().await;
}
