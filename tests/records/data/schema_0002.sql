BEGIN TRANSACTION;
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO "alembic_version" VALUES('0002');
CREATE TABLE comparisons (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	created VARCHAR(32) NOT NULL, 
	"left" TEXT NOT NULL, 
	"right" TEXT NOT NULL, 
	"key" TEXT, 
	equal BOOLEAN NOT NULL, 
	result TEXT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES runs (id)
);
CREATE TABLE datasets (
	name VARCHAR(255) NOT NULL, 
	current_version INTEGER, 
	current_line INTEGER DEFAULT '1' NOT NULL, 
	schema TEXT, 
	updated VARCHAR(32), 
	PRIMARY KEY (name)
);
CREATE TABLE file_state (
	dataset VARCHAR(255) NOT NULL, 
	line INTEGER NOT NULL, 
	path TEXT NOT NULL, 
	size INTEGER NOT NULL, 
	mtime FLOAT NOT NULL, 
	hash VARCHAR(80) NOT NULL, 
	file_id INTEGER NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	PRIMARY KEY (dataset, line, path)
);
CREATE TABLE parts (
	id INTEGER NOT NULL, 
	dataset VARCHAR(255) NOT NULL, 
	line INTEGER NOT NULL, 
	version INTEGER NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	path TEXT NOT NULL, 
	rows INTEGER NOT NULL, 
	bytes INTEGER, 
	PRIMARY KEY (id)
);
CREATE TABLE rejects (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	file_id INTEGER, 
	path TEXT, 
	record INTEGER, 
	"column" VARCHAR(255), 
	value TEXT, 
	rule VARCHAR(64), 
	reason TEXT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES runs (id)
);
CREATE TABLE runs (
	id INTEGER NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	started VARCHAR(32) NOT NULL, 
	finished VARCHAR(32), 
	status VARCHAR(16) NOT NULL, 
	error TEXT, 
	note TEXT, 
	engine VARCHAR(32), 
	host VARCHAR(255), 
	user VARCHAR(255), 
	pid INTEGER, 
	headwater_version VARCHAR(32), 
	config_hash VARCHAR(64), 
	options TEXT, 
	summary TEXT, 
	PRIMARY KEY (id)
);
CREATE TABLE source_files (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	dataset VARCHAR(255) NOT NULL, 
	line INTEGER NOT NULL, 
	version INTEGER, 
	source_index INTEGER, 
	source TEXT, 
	path TEXT NOT NULL, 
	size INTEGER, 
	mtime FLOAT, 
	hash VARCHAR(80), 
	format VARCHAR(16), 
	status VARCHAR(16) NOT NULL, 
	reason TEXT, 
	alias_of TEXT, 
	rows_read INTEGER DEFAULT '0' NOT NULL, 
	rows_rejected INTEGER DEFAULT '0' NOT NULL, 
	duplicates INTEGER DEFAULT '0' NOT NULL, 
	rows_added INTEGER DEFAULT '0' NOT NULL, 
	rows_superseded INTEGER DEFAULT '0' NOT NULL, 
	rows_retracted INTEGER DEFAULT '0' NOT NULL, 
	fixes TEXT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES runs (id)
);
CREATE TABLE versions (
	id INTEGER NOT NULL, 
	dataset VARCHAR(255) NOT NULL, 
	version INTEGER NOT NULL, 
	line INTEGER NOT NULL, 
	parent INTEGER, 
	run_id INTEGER NOT NULL, 
	created VARCHAR(32) NOT NULL, 
	rows INTEGER NOT NULL, 
	rows_added INTEGER NOT NULL, 
	rows_retracted INTEGER NOT NULL, 
	schema TEXT NOT NULL, 
	location TEXT NOT NULL, 
	lineage TEXT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_versions_dataset_version UNIQUE (dataset, version), 
	FOREIGN KEY(run_id) REFERENCES runs (id)
);
CREATE INDEX ix_runs_status ON runs (status);
CREATE INDEX ix_parts_line_version ON parts (dataset, line, version);
CREATE INDEX ix_source_files_run ON source_files (run_id);
CREATE INDEX ix_source_files_path ON source_files (dataset, line, path);
CREATE INDEX ix_file_state_hash ON file_state (dataset, line, hash);
CREATE INDEX ix_rejects_run ON rejects (run_id);
CREATE INDEX ix_comparisons_run ON comparisons (run_id);
COMMIT;
