//! Integration tests for argus-alert: config examples, timelines on a paused clock, persistence
//! and channels.

mod chat;
mod commit;
mod common;
mod config;
mod escalation;
mod gotemplates;
mod people;
mod persistence;
mod silence_index;
mod timeline;
mod webhook;
mod wechat;
