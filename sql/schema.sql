-- jobreport's copy of the production schema (SPEC §2), for tests and the demo.
-- Names and types match the production tables so that queries port unchanged.
-- All timestamps are timestamp without time zone holding UTC.

CREATE TYPE key_types AS ENUM ('normal', 'team', 'test');
CREATE TYPE notification_types AS ENUM ('sms', 'email', 'letter');
CREATE TYPE template_types AS ENUM ('sms', 'email', 'letter');
CREATE TYPE notify_statuses AS ENUM (
    'cancelled', 'created', 'sending', 'sent', 'delivered', 'pending', 'failed',
    'technical-failure', 'temporary-failure', 'permanent-failure', 'pending-virus-check',
    'validation-failed', 'virus-scan-failed');
CREATE TYPE job_statuses AS ENUM (
    'pending', 'in progress', 'finished', 'sending limits exceeded', 'scheduled', 'cancelled',
    'ready to send', 'sent to dvla', 'error');

CREATE TABLE services (
    id uuid PRIMARY KEY,
    name varchar(255) NOT NULL UNIQUE,
    active boolean NOT NULL,
    created_at timestamp
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    name varchar NOT NULL,
    email_address varchar(255) NOT NULL UNIQUE
);

CREATE TABLE templates_history (
    id uuid NOT NULL,
    version integer NOT NULL,
    service_id uuid,
    name varchar(255) NOT NULL,
    template_type template_types NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE jobs (
    id uuid PRIMARY KEY,
    original_file_name varchar NOT NULL,
    service_id uuid NOT NULL,
    template_id uuid,
    template_version integer NOT NULL,
    created_at timestamp NOT NULL,
    created_by_id uuid,
    job_status job_statuses NOT NULL,
    notification_count integer NOT NULL,
    scheduled_for timestamp,
    archived boolean NOT NULL DEFAULT false
);

CREATE TABLE notifications (
    id uuid PRIMARY KEY,
    "to" varchar NOT NULL,
    normalised_to varchar,
    job_id uuid,
    job_row_number integer,
    service_id uuid,
    template_id uuid,
    template_version integer NOT NULL,
    key_type key_types NOT NULL,
    notification_type notification_types NOT NULL,
    created_at timestamp NOT NULL,
    notification_status notify_statuses DEFAULT 'created',
    created_by_id uuid,
    carrier text,
    provider_response text,
    client_reference varchar,
    UNIQUE (job_id, job_row_number)
);

CREATE INDEX ix_notifications_service_created_at ON notifications (service_id, created_at);
CREATE INDEX ix_notifications_job_id ON notifications (job_id);
CREATE INDEX ix_jobs_service_id ON jobs (service_id);
