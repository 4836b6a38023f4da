"""The Asterisk Manager Interface adapter of the Pbx port: frames.py (the wire format, pure),
client.py (one connection kept up), translate.py (AMI events -> port events, pure) and
adapter.py (AmiPbx, the Pbx implementation the service is given when XUC_PBX=ami://...)."""
