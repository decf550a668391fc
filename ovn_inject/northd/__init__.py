"""The compiler daemon: services, attachments and flows -> hook lflows in SB."""
