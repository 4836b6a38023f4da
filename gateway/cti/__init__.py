"""The CTI WebSocket, `/xuc/api/2.0/cti?token=`: the live channel of the original's browser clients
(cti.js). docs/cti.md describes it; ../shared/spec/xuc-cti-websocket.md is the contract."""
