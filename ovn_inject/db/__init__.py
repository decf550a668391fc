"""The OVN_Inject database: its schema, a typed API on ovsdbapp, and flow validation."""
