"""The xuc launcher (`xuc` command) and the runtime every service and the gateway share."""
