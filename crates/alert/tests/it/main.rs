//! Integration tests for argus-alert: config examples, timelines on a paused clock, persistence
//! and channels.

mod common;
mod config;
mod escalation;
mod persistence;
mod timeline;
mod webhook;
