//! Bearer-token validator and sample protected API. Not implemented yet: see the issue "ccflow-resource-api".
