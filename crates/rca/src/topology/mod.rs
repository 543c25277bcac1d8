//! Topology-aware ranking of the services (and their metrics) that most
//! likely caused an incident.
