//! The invitation handshake: an acceptance seen on the wire cannot be replayed to join or redirect a connection.
