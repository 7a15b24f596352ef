//! One message, one stream: a message is sent on a unidirectional stream of its own, and the
//! stream's end is the message's end, so nothing is length-prefixed and a message lost with its
//! connection is never half-read.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StreamError {
    #[error("cannot open a stream: {0}")]
    Open(#[from] quinn::ConnectionError),
    #[error("writing the stream failed: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("the stream was closed before it was finished: {0}")]
    Finish(#[from] quinn::ClosedStream),
    /// The peer sent more than any message it may send.
    #[error("the stream is longer than {0} bytes")]
    TooLong(usize),
    /// The stream was reset, or its connection closed, before it ended.
    #[error("the stream broke off: {0}")]
    Incomplete(#[from] quinn::ReadError),
}

/// Sends `message` on a new unidirectional stream of `connection`.
pub async fn send(connection: &quinn::Connection, message: &[u8]) -> Result<(), StreamError> {
    let mut stream = connection.open_uni().await?;
    stream.write_all(message).await?;
    stream.finish()?;
    Ok(())
}

/// Reads the message of one stream, at most `max` bytes long.
pub async fn receive(stream: &mut quinn::RecvStream, max: usize) -> Result<Vec<u8>, StreamError> {
    stream.read_to_end(max).await.map_err(|error| match error {
        quinn::ReadToEndError::TooLong => StreamError::TooLong(max),
        quinn::ReadToEndError::Read(error) => StreamError::Incomplete(error),
    })
}
