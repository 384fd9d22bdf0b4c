//! Compiles `proto/tilannekuva/v1/*.proto` with protox (no system `protoc`) and writes a
//! file descriptor set for gRPC server reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let files = [
        "proto/tilannekuva/v1/common.proto",
        "proto/tilannekuva/v1/ingest.proto",
        "proto/tilannekuva/v1/picture.proto",
        "proto/tilannekuva/v1/catalog.proto",
        "proto/tilannekuva/v1/admin.proto",
        "proto/tilannekuva/v1/round.proto",
    ];
    let fds = protox::compile(files, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("tilannekuva_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    // Requests that do not decode are the client's error (INVALID_ARGUMENT), not INTERNAL.
    tonic_prost_build::configure()
        .codec_path("crate::api::codec::Strict")
        .compile_fds(fds)?;
    Ok(())
}
