-- The proofs of the acceptances an initiator took (a hash of each), with the digest of the
-- acceptor's descriptor each carried (node id, key, name, URL, tracker, short names): the same
-- proof is never taken twice, and a repeated acceptance (the acceptor lost the answer and asks
-- again) must describe the acceptor exactly as the first did. Kept as long as the connection.
CREATE TABLE connection_accept_proofs (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    proof_id      BLOB NOT NULL,
    descriptor    BLOB NOT NULL,
    received      INTEGER NOT NULL,
    PRIMARY KEY (connection_id, proof_id)
) STRICT, WITHOUT ROWID;
