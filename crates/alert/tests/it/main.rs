//! Integration tests for argus-alert: config examples, timelines on a paused clock, persistence
//! and channels.

mod chat;
mod common;
mod config;
mod escalation;
mod gotemplates;
mod people;
mod persistence;
mod timeline;
mod webhook;
