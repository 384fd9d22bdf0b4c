//! The protobuf codec of the services: prost's, except that a request that does not decode
//! (invalid UTF-8 in a string, a truncated message, a wrong wire type) is the client's
//! error, `INVALID_ARGUMENT`, not the `INTERNAL` that prost's codec answers.

use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// An `INTERNAL` status that tonic or prost gives for a request it cannot decode, as the
/// client's `INVALID_ARGUMENT`; any other status as it is. Only request decoding produces
/// these messages on the server, so nothing the server itself got wrong is relabelled.
pub(crate) fn undecodable(status: Status) -> Status {
    let m = status.message();
    let request_framing = m.starts_with("Unexpected EOF decoding stream")
        || m.starts_with("Missing request message")
        || m.starts_with("protocol error: received message with");
    if status.code() == Code::Internal && request_framing {
        return Status::invalid_argument(format!("the request is not a valid gRPC message: {m}"));
    }
    status
}

/// prost's codec with decode failures answered as `INVALID_ARGUMENT`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Strict<T, U>(ProstCodec<T, U>);

impl<T, U> Codec for Strict<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = StrictDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.0.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrictDecoder(self.0.decoder())
    }
}

/// prost's decoder with decode failures answered as `INVALID_ARGUMENT`.
#[derive(Debug)]
pub(crate) struct StrictDecoder<U>(ProstDecoder<U>);

impl<U: prost::Message + Default> Decoder for StrictDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(buf).map_err(|s| {
            Status::invalid_argument(format!(
                "the message is not valid protobuf: {}",
                s.message()
            ))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
