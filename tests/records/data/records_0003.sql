BEGIN TRANSACTION;
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO "alembic_version" VALUES('0003');
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
INSERT INTO "comparisons" VALUES(1,4,'2026-12-03T08:34:07.415248+00:00','prices@1','prices@latest','["date", "ticker"]',0,'{"left": "prices@1", "right": "prices@latest", "key": ["date", "ticker"], "rows_left": 190, "rows_right": 238, "rows_in_both": 190, "rows_only_left": 0, "rows_only_right": 48, "duplicate_rows_left": 0, "duplicate_rows_right": 0, "columns_only_left": [], "columns_only_right": [], "columns_type_differs": {}, "keys_in_both": 190, "keys_only_left": 0, "keys_only_right": 48, "duplicate_keys_left": 0, "duplicate_keys_right": 0, "rows_with_differences": 0, "columns": {"peratio": {"unequal": 0, "equal": 190, "null_one_side": 0, "max_abs_diff": 0.0, "left_type": "float", "right_type": "float"}, "price": {"unequal": 0, "equal": 190, "null_one_side": 0, "max_abs_diff": 0.0, "left_type": "float", "right_type": "float"}, "volume": {"unequal": 0, "equal": 190, "null_one_side": 0, "max_abs_diff": 0.0, "left_type": "int", "right_type": "int"}, "eps": {"unequal": 0, "equal": 190, "null_one_side": 0, "max_abs_diff": 0.0, "left_type": "float", "right_type": "float"}, "up_next_day": {"unequal": 0, "equal": 190, "null_one_side": 0, "max_abs_diff": 0.0, "left_type": "int", "right_type": "int"}}, "samples": {"rows_only_right": [{"date": "2024-01-15", "ticker": "HALO", "peratio": 38.258, "price": 64.97, "volume": 456372, "eps": 1.698, "up_next_day": 0}, {"date": "2024-01-14", "ticker": "GLOW", "peratio": 40.102, "price": 64.15, "volume": 1113643, "eps": 1.6, "up_next_day": 0}, {"date": "2024-01-14", "ticker": "BOLT", "peratio": 24.424, "price": 26.89, "volume": 1716733, "eps": 1.101, "up_next_day": 1}, {"date": "2024-01-15", "ticker": "NOVA", "peratio": 47.305, "price": 109.7, "volume": 1241016, "eps": 2.319, "up_next_day": 0}, {"date": "2024-01-14", "ticker": "CRUX", "peratio": 28.564, "price": 34.29, "volume": 1133566, "eps": 1.2, "up_next_day": 1}, {"date": "2024-01-13", "ticker": "FLUX", "peratio": 36.667, "price": 55.0, "volume": 1335055, "eps": 1.5, "up_next_day": 0}, {"date": "2024-01-14", "ticker": "DYNA", "peratio": 31.866, "price": 41.38, "volume": 972141, "eps": 1.299, "up_next_day": 1}, {"date": "2024-01-13", "ticker": "IONX", "peratio": 42.222, "price": 76.0, "volume": 661965, "eps": 1.8, "up_next_day": 0}, {"date": "2024-01-13", "ticker": "DYNA", "peratio": 31.538, "price": 41.0, "volume": 673934, "eps": 1.3, "up_next_day": 0}, {"date": "2024-01-13", "ticker": "ORCA", "peratio": 49.167, "price": 118.0, "volume": 1091218, "eps": 2.4, "up_next_day": 0}]}, "saved": {}, "options": {"abs_tol": 0.0, "rel_tol": 0.0, "ignore_case": false, "ignore_spaces": false, "column_abs_tol": {}, "column_rel_tol": {}}, "seconds": 1.235, "equal": false}');
CREATE TABLE datasets (
	name VARCHAR(255) NOT NULL, 
	current_version INTEGER, 
	current_line INTEGER DEFAULT '1' NOT NULL, 
	schema TEXT, 
	updated VARCHAR(32), 
	PRIMARY KEY (name)
);
INSERT INTO "datasets" VALUES('prices',2,1,'[["date", "date"], ["ticker", "string"], ["peratio", "float"], ["price", "float"], ["volume", "int"], ["eps", "float"], ["up_next_day", "int"]]','2026-12-03T08:33:57.281108+00:00');
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
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_a/batch000_000.csv',806,1.79628323440968775751e+09,'sha256:ec8f17121f575e158516dfda5de29a7eda3f8e8f439979655dd4f25328bd80ea',1,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_a/batch000_001.csv',808,1.79628323440968775751e+09,'sha256:73efe9cb4bb7db8c44ca71b86b2b2d746b4522cc82c9220e0db9b6a486ac263a',2,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_a/batch000_002.csv',796,1.79628323440968775751e+09,'sha256:56b3edc920d743fcd77743cb4dc6276ee12b7cbf745bffb078855442b3d19547',3,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_a/batch000_003.csv',807,1.79628323440968775751e+09,'sha256:c0943ffab762758803e55b499f22fa8d891fd42db570ec82d843e953085d27f1',4,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_b/batch000_000.jsonl',2023,1.79628323440968775751e+09,'sha256:19b73f24f977f602a84324404c55500a97c87a03eb37b83d23572f5e433288f3',5,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_b/batch000_001.jsonl',2018,1.79628323440968775751e+09,'sha256:aaabd67bee8af56307b042ae3a344c9a445ae7db2aaf4aa3672a4928f791b702',6,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_b/batch000_002.jsonl',2015,1.79628323440968775751e+09,'sha256:e59ca8288519589c55a9a6401173c530942989b11b4fd1693221a863a19bacd8',7,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_b/batch000_003.jsonl',2026,1.79628323440968775751e+09,'sha256:0f6d4135cd6206f5ffc54792e4127927c57e1b73f243ec1559e3a3dec887bab5',8,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_c/batch000_000.parquet',2500,1.79628323440968775751e+09,'sha256:91f587fa578563c9566f7d2a70b4175ee718118f184d363ae85b5bfde12eb20d',9,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_c/batch000_001.parquet',2513,1.79628323440968775751e+09,'sha256:55c848be0edf12f9dda69cdbb17637bd0c3e185145029fd751d4cea6cf320859',10,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_c/batch000_002.parquet',2531,1.79628323440968775751e+09,'sha256:38cad739580354184eac48dd9ae066bd93fce56c9445148c4a5aa0376ad972b5',11,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_c/batch000_003.parquet',2486,1.79628323440968775751e+09,'sha256:9c898587a4bbd14deb51a02cfe3bbfdf8d8b9cafe5c98b87e4b96c103ccdf72d',12,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_a/batch001_000.csv',241,1.79628323647069454188e+09,'sha256:479b372a7a41134d62827423f4e88673a396156808c1facbadabda9f1957c89b',13,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_a/batch001_001.csv',233,1.79628323647069454188e+09,'sha256:0ade12ca0135b91c6fc6371812df9897d1698bf059d460a9e50614698b6de79c',14,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_a/batch001_002.csv',233,1.79628323647069454188e+09,'sha256:aa74f0479f0acb6a8c2e50b5271567c0cdf40ea1ea845086d15ec42d2f9925fb',15,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_a/batch001_003.csv',243,1.79628323647069454188e+09,'sha256:1381c83f5e7f6779fb765cff6b000286b6f8cbf6c18e7f27496af65cce6e1a68',16,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_b/batch001_000.jsonl',501,1.79628323647069454188e+09,'sha256:ff303dc4ee433fd8c78c6e630709368ee1c4dc808058de9f31d24357b9c42a47',17,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_b/batch001_001.jsonl',498,1.79628323647069454188e+09,'sha256:d1e6e152a60c02daf77185c7c35a4c958820ca9d4328f28706a7554b30a9192b',18,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_b/batch001_002.jsonl',505,1.79628323647069454188e+09,'sha256:ab85bb119e7ea9f00d0ac2fad1165c46dd3bf43e609ca5f33d9ede701435ac20',19,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_b/batch001_003.jsonl',500,1.79628323647069454188e+09,'sha256:53e052f3d3eaa76d04654a8ff94afd703430d909986a9594f2f28a5d6956f113',20,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_c/batch001_000.parquet',1995,1.79628323647069454188e+09,'sha256:0c9cc80ad6b96326a2fb6ac4f8ad186989046ecb93d98c90fd43360f86ddc28d',21,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_c/batch001_001.parquet',2015,1.79628323647069454188e+09,'sha256:8a077abde5090a3112055129e94f5e4812315f0c7827ab383fb9275690ad0b6b',22,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_c/batch001_002.parquet',2016,1.79628323647069454188e+09,'sha256:12e4bbed0a25f66710cb3797adab7c230de4caeb4341a42a118f1b29fca52eaf',23,'ingested');
INSERT INTO "file_state" VALUES('prices',1,'/tmp/hw0003/demo/brokers/broker_c/batch001_003.parquet',2007,1.79628323647069454188e+09,'sha256:7c411576a4f6c6c313b505b54db879c02011828703772c13e3af2ebc5282f952',24,'ingested');
CREATE TABLE models (
	version INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	created VARCHAR(32) NOT NULL, 
	dataset VARCHAR(255) NOT NULL, 
	dataset_version INTEGER, 
	estimator TEXT NOT NULL, 
	params TEXT NOT NULL, 
	features TEXT NOT NULL, 
	target VARCHAR(255) NOT NULL, 
	metric VARCHAR(32) NOT NULL, 
	score FLOAT, 
	test_rows INTEGER NOT NULL, 
	train_rows INTEGER NOT NULL, 
	seconds FLOAT NOT NULL, 
	location TEXT NOT NULL, 
	file_hash VARCHAR(80) NOT NULL, 
	trusted_types TEXT NOT NULL, 
	card TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	PRIMARY KEY (version), 
	FOREIGN KEY(run_id) REFERENCES runs (id)
);
INSERT INTO "models" VALUES(1,3,'2026-12-03T08:33:59.029005+00:00','prices',2,'sklearn.linear_model.LogisticRegression','{"max_iter": 1000, "random_state": 0}','["peratio", "price", "volume", "eps"]','up_next_day','f1',0.7,39,199,1.548,'/tmp/hw0003/demo/models/v0001','sha256:bdd26fedb3dceaaddb14d8fe5aeec65c7a47189607be949c82a6f4ee32c3121f','["numpy.dtype"]','{"model_version": 1, "created": "2026-12-03T08:33:59.029005+00:00", "run_id": 3, "dataset": "prices", "dataset_version": 2, "estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 1000, "random_state": 0}, "preprocessing": {"scale": true, "one_hot": true, "impute": "median"}, "features": ["peratio", "price", "volume", "eps"], "target": "up_next_day", "classes": [0, 1], "metric": "f1", "score": 0.7, "test_data": "hold-out: 20% of rows by hash of key [''date'', ''ticker'']", "train_rows": 199, "test_rows": 39, "seconds": 1.548, "libraries": {"headwater": "0.1.0", "scikit-learn": "1.9.1", "skops": "0.16.0", "numpy": "2.4.6", "pandas": "3.0.6", "pyarrow": "26.0.1", "duckdb": "2.0.1", "ibis-framework": "12.0.0", "sqlalchemy": "2.1.9", "matplotlib": "3.11.2"}, "profile": {"rows": 199, "features": {"peratio": {"missing_share": 0.0, "kind": "numeric", "mean": 38.534919597989955, "std": 8.462645749942089, "quantiles": {"min": 19.543, "p05": 21.0235, "p25": 32.4805, "p50": 40.676, "p75": 44.966, "p95": 49.4058, "max": 50.24}, "histogram": {"edges": [19.543, 22.6127, 25.6824, 28.7521, 31.8218, 34.8915, 37.9612, 41.0309, 44.1006, 47.1703, 50.24], "counts": [13, 8, 13, 10, 22, 9, 27, 38, 25, 34]}}, "price": {"missing_share": 0.0, "kind": "numeric", "mean": 70.97125628140704, "std": 31.30505058116172, "quantiles": {"min": 19.48, "p05": 20.873, "p25": 43.125, "p50": 72.17, "p75": 95.375, "p95": 121.286, "max": 125.12}, "histogram": {"edges": [19.48, 30.044, 40.608000000000004, 51.172, 61.736000000000004, 72.3, 82.864, 93.42800000000001, 103.992, 114.556, 125.12], "counts": [25, 13, 29, 11, 22, 20, 19, 27, 9, 24]}}, "volume": {"missing_share": 0.0, "kind": "numeric", "mean": 987112.5075376885, "std": 283516.2043939968, "quantiles": {"min": 362750.0, "p05": 580627.2, "p25": 767438.0, "p50": 989751.0, "p75": 1138025.5, "p95": 1506533.5, "max": 1816718.0}, "histogram": {"edges": [362750.0, 508146.8, 653543.6, 798940.3999999999, 944337.2, 1089734.0, 1235130.7999999998, 1380527.5999999999, 1525924.4, 1671321.2, 1816718.0], "counts": [4, 17, 34, 34, 48, 25, 20, 8, 4, 5]}}, "eps": {"missing_share": 0.01507537688442211, "kind": "numeric", "mean": 1.7486377551020404, "std": 0.4684518972137093, "quantiles": {"min": 0.99, "p05": 0.99975, "p25": 1.3, "p50": 1.789, "p75": 2.13475, "p95": 2.4865000000000004, "max": 2.5}, "histogram": {"edges": [0.99, 1.141, 1.292, 1.443, 1.5939999999999999, 1.745, 1.896, 2.0469999999999997, 2.198, 2.349, 2.5], "counts": [25, 20, 20, 11, 20, 12, 24, 16, 23, 25]}}}, "target_balance": {"0": 156, "1": 43}}}','promoted');
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
INSERT INTO "parts" VALUES(1,'prices',1,1,'rows','parts/run000001-372ad2072df2.parquet',190,9077);
INSERT INTO "parts" VALUES(2,'prices',1,2,'rows','parts/run000002-b1d5efd85a5f.parquet',48,4198);
CREATE TABLE production (
	name VARCHAR(64) NOT NULL, 
	version INTEGER, 
	since VARCHAR(32) NOT NULL, 
	PRIMARY KEY (name)
);
INSERT INTO "production" VALUES('default',1,'2026-12-03T08:34:00.980391+00:00');
CREATE TABLE promotions (
	id INTEGER NOT NULL, 
	at VARCHAR(32) NOT NULL, 
	action VARCHAR(16) NOT NULL, 
	from_version INTEGER, 
	to_version INTEGER, 
	run_id INTEGER, 
	user VARCHAR(255), 
	host VARCHAR(255), 
	forced BOOLEAN DEFAULT 0 NOT NULL, 
	reason TEXT NOT NULL, 
	candidate_score FLOAT, 
	production_score FLOAT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES runs (id)
);
INSERT INTO "promotions" VALUES(1,'2026-12-03T08:34:00.980391+00:00','promote',NULL,1,3,'root','vm',0,'nothing in production; f1 0.7000',0.7,NULL);
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
INSERT INTO "rejects" VALUES(1,1,1,'/tmp/hw0003/demo/brokers/broker_a/batch000_000.csv',13,'price','n/a?','type','''n/a?'' is not a valid float for column ''price''');
INSERT INTO "rejects" VALUES(2,1,2,'/tmp/hw0003/demo/brokers/broker_a/batch000_001.csv',6,'price','n/a?','type','''n/a?'' is not a valid float for column ''price''');
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
INSERT INTO "runs" VALUES(1,'ingest','2026-12-03T08:33:54.864378+00:00','2026-12-03T08:33:56.453381+00:00','partial',NULL,NULL,'duckdb','vm','root',9992,'0.1.0','62ff83b283fa3138','{"strict": false, "rebuild": false}','{"run_id": 1, "status": "partial", "files_new": 12, "files_changed": 0, "files_skipped": 0, "files_failed": 0, "files_alias": 0, "files_deferred": 0, "files_missing": 0, "files_ignored": 0, "rows_read": 192, "rows_rejected": 2, "duplicates_dropped": 0, "rows_superseded": 0, "rows_stale": 0, "rows_added": 190, "rows_retracted": 0, "dataset": "prices", "dataset_version": 1, "dataset_rows": 190, "output": "/tmp/hw0003/demo/data/prices", "schema_changes": {"pinned": {"date": "date", "ticker": "string", "peratio": "float", "price": "float", "volume": "int", "eps": "float", "up_next_day": "int"}}, "source_errors": [], "orphans_removed": 0, "recovered_runs": [], "dry_run": false, "seconds": 1.584, "files": [{"path": "/tmp/hw0003/demo/brokers/broker_a/batch000_000.csv", "status": "new", "reason": null, "size": 806, "hash": "sha256:ec8f17121f575e158516dfda5de29a7eda3f8e8f439979655dd4f25328bd80ea", "format": "csv", "rows_read": 16, "rows_rejected": 1, "duplicates": 0, "rows_superseded": 0, "rows_added": 15, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 1, "values_cast": 94, "thousands_separators_removed": 16}}, {"path": "/tmp/hw0003/demo/brokers/broker_a/batch000_001.csv", "status": "new", "reason": null, "size": 808, "hash": "sha256:73efe9cb4bb7db8c44ca71b86b2b2d746b4522cc82c9220e0db9b6a486ac263a", "format": "csv", "rows_read": 16, "rows_rejected": 1, "duplicates": 0, "rows_superseded": 0, "rows_added": 15, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 95, "thousands_separators_removed": 16}}, {"path": "/tmp/hw0003/demo/brokers/broker_a/batch000_002.csv", "status": "new", "reason": null, "size": 796, "hash": "sha256:56b3edc920d743fcd77743cb4dc6276ee12b7cbf745bffb078855442b3d19547", "format": "csv", "rows_read": 16, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 16, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 16}}, {"path": "/tmp/hw0003/demo/brokers/broker_a/batch000_003.csv", "status": "new", "reason": null, "size": 807, "hash": "sha256:c0943ffab762758803e55b499f22fa8d891fd42db570ec82d843e953085d27f1", "format": "csv", "rows_read": 16, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 16, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 16}}, {"path": "/tmp/hw0003/demo/brokers/broker_b/batch000_000.jsonl", "status": "new", "reason": null, "size": 2023, "hash": "sha256:19b73f24f977f602a84324404c55500a97c87a03eb37b83d23572f5e433288f3", "format": "jsonl", "rows_read": 16, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 16, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_b/batch000_001.jsonl", "status": "new", "reason": null, "size": 2018, "hash": "sha256:aaabd67bee8af56307b042ae3a344c9a445ae7db2aaf4aa3672a4928f791b702", "format": "jsonl", "rows_read": 16, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 16, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 1, "values_cast": 95, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_b/batch000_002.jsonl", "status": "new", "reason": null, "size": 2015, "hash": "sha256:e59ca8288519589c55a9a6401173c530942989b11b4fd1693221a863a19bacd8", "format": "jsonl", "rows_read": 16, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 16, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_b/batch000_003.jsonl", "status": "new", "reason": null, "size": 2026, "hash": "sha256:0f6d4135cd6206f5ffc54792e4127927c57e1b73f243ec1559e3a3dec887bab5", "format": "jsonl", "rows_read": 16, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 16, "fixes": {"cells_trimmed": 1, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_c/batch000_000.parquet", "status": "new", "reason": null, "size": 2500, "hash": "sha256:91f587fa578563c9566f7d2a70b4175ee718118f184d363ae85b5bfde12eb20d", "format": "parquet", "rows_read": 16, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 16, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_c/batch000_001.parquet", "status": "new", "reason": null, "size": 2513, "hash": "sha256:55c848be0edf12f9dda69cdbb17637bd0c3e185145029fd751d4cea6cf320859", "format": "parquet", "rows_read": 16, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 16, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 1, "values_cast": 95, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_c/batch000_002.parquet", "status": "new", "reason": null, "size": 2531, "hash": "sha256:38cad739580354184eac48dd9ae066bd93fce56c9445148c4a5aa0376ad972b5", "format": "parquet", "rows_read": 16, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 16, "fixes": {"cells_trimmed": 1, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_c/batch000_003.parquet", "status": "new", "reason": null, "size": 2486, "hash": "sha256:9c898587a4bbd14deb51a02cfe3bbfdf8d8b9cafe5c98b87e4b96c103ccdf72d", "format": "parquet", "rows_read": 16, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 16, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 1, "values_cast": 95, "thousands_separators_removed": 0}}]}');
INSERT INTO "runs" VALUES(2,'ingest','2026-12-03T08:33:56.478114+00:00','2026-12-03T08:33:57.292413+00:00','ok',NULL,NULL,'duckdb','vm','root',9992,'0.1.0','62ff83b283fa3138','{"strict": false, "rebuild": false}','{"run_id": 2, "status": "ok", "files_new": 12, "files_changed": 0, "files_skipped": 12, "files_failed": 0, "files_alias": 0, "files_deferred": 0, "files_missing": 0, "files_ignored": 0, "rows_read": 48, "rows_rejected": 0, "duplicates_dropped": 0, "rows_superseded": 0, "rows_stale": 0, "rows_added": 48, "rows_retracted": 0, "dataset": "prices", "dataset_version": 2, "dataset_rows": 238, "output": "/tmp/hw0003/demo/data/prices", "schema_changes": {}, "source_errors": [], "orphans_removed": 0, "recovered_runs": [], "dry_run": false, "seconds": 0.812, "files": [{"path": "/tmp/hw0003/demo/brokers/broker_a/batch001_000.csv", "status": "new", "reason": null, "size": 241, "hash": "sha256:479b372a7a41134d62827423f4e88673a396156808c1facbadabda9f1957c89b", "format": "csv", "rows_read": 4, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 4, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 4}}, {"path": "/tmp/hw0003/demo/brokers/broker_a/batch001_001.csv", "status": "new", "reason": null, "size": 233, "hash": "sha256:0ade12ca0135b91c6fc6371812df9897d1698bf059d460a9e50614698b6de79c", "format": "csv", "rows_read": 4, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 4, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 4}}, {"path": "/tmp/hw0003/demo/brokers/broker_a/batch001_002.csv", "status": "new", "reason": null, "size": 233, "hash": "sha256:aa74f0479f0acb6a8c2e50b5271567c0cdf40ea1ea845086d15ec42d2f9925fb", "format": "csv", "rows_read": 4, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 4, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 4}}, {"path": "/tmp/hw0003/demo/brokers/broker_a/batch001_003.csv", "status": "new", "reason": null, "size": 243, "hash": "sha256:1381c83f5e7f6779fb765cff6b000286b6f8cbf6c18e7f27496af65cce6e1a68", "format": "csv", "rows_read": 4, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 4, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 4}}, {"path": "/tmp/hw0003/demo/brokers/broker_b/batch001_000.jsonl", "status": "new", "reason": null, "size": 501, "hash": "sha256:ff303dc4ee433fd8c78c6e630709368ee1c4dc808058de9f31d24357b9c42a47", "format": "jsonl", "rows_read": 4, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 4, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_b/batch001_001.jsonl", "status": "new", "reason": null, "size": 498, "hash": "sha256:d1e6e152a60c02daf77185c7c35a4c958820ca9d4328f28706a7554b30a9192b", "format": "jsonl", "rows_read": 4, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 4, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_b/batch001_002.jsonl", "status": "new", "reason": null, "size": 505, "hash": "sha256:ab85bb119e7ea9f00d0ac2fad1165c46dd3bf43e609ca5f33d9ede701435ac20", "format": "jsonl", "rows_read": 4, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 4, "fixes": {"cells_trimmed": 1, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_b/batch001_003.jsonl", "status": "new", "reason": null, "size": 500, "hash": "sha256:53e052f3d3eaa76d04654a8ff94afd703430d909986a9594f2f28a5d6956f113", "format": "jsonl", "rows_read": 4, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 4, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_c/batch001_000.parquet", "status": "new", "reason": null, "size": 1995, "hash": "sha256:0c9cc80ad6b96326a2fb6ac4f8ad186989046ecb93d98c90fd43360f86ddc28d", "format": "parquet", "rows_read": 4, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 4, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_c/batch001_001.parquet", "status": "new", "reason": null, "size": 2015, "hash": "sha256:8a077abde5090a3112055129e94f5e4812315f0c7827ab383fb9275690ad0b6b", "format": "parquet", "rows_read": 4, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 4, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_c/batch001_002.parquet", "status": "new", "reason": null, "size": 2016, "hash": "sha256:12e4bbed0a25f66710cb3797adab7c230de4caeb4341a42a118f1b29fca52eaf", "format": "parquet", "rows_read": 4, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 4, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}}, {"path": "/tmp/hw0003/demo/brokers/broker_c/batch001_003.parquet", "status": "new", "reason": null, "size": 2007, "hash": "sha256:7c411576a4f6c6c313b505b54db879c02011828703772c13e3af2ebc5282f952", "format": "parquet", "rows_read": 4, "rows_rejected": 0, "duplicates": 0, "rows_superseded": 0, "rows_added": 4, "fixes": {"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}}]}');
INSERT INTO "runs" VALUES(3,'train','2026-12-03T08:33:57.325979+00:00','2026-12-03T08:34:00.984059+00:00','ok',NULL,NULL,'duckdb','vm','root',9992,'0.1.0','62ff83b283fa3138','{"deploy": true, "force": false}','{"model_version": 1, "metric": "f1", "score": 0.7, "test_rows": 39, "promoted": true, "forced": false, "production_score": null, "previous_production_version": null, "production_version": 1, "reason": "nothing in production; f1 0.7000"}');
INSERT INTO "runs" VALUES(4,'compare','2026-12-03T08:34:06.164304+00:00','2026-12-03T08:34:07.411638+00:00','differences',NULL,'prices@1 vs prices@latest','duckdb','vm','root',10153,'0.1.0','62ff83b283fa3138',NULL,'{"left": "prices@1", "right": "prices@latest", "key": ["date", "ticker"], "rows_left": 190, "rows_right": 238, "rows_in_both": 190, "rows_only_left": 0, "rows_only_right": 48, "duplicate_rows_left": 0, "duplicate_rows_right": 0, "columns_only_left": [], "columns_only_right": [], "columns_type_differs": {}, "keys_in_both": 190, "keys_only_left": 0, "keys_only_right": 48, "duplicate_keys_left": 0, "duplicate_keys_right": 0, "rows_with_differences": 0, "columns": {"peratio": {"unequal": 0, "equal": 190, "null_one_side": 0, "max_abs_diff": 0.0, "left_type": "float", "right_type": "float"}, "price": {"unequal": 0, "equal": 190, "null_one_side": 0, "max_abs_diff": 0.0, "left_type": "float", "right_type": "float"}, "volume": {"unequal": 0, "equal": 190, "null_one_side": 0, "max_abs_diff": 0.0, "left_type": "int", "right_type": "int"}, "eps": {"unequal": 0, "equal": 190, "null_one_side": 0, "max_abs_diff": 0.0, "left_type": "float", "right_type": "float"}, "up_next_day": {"unequal": 0, "equal": 190, "null_one_side": 0, "max_abs_diff": 0.0, "left_type": "int", "right_type": "int"}}, "saved": {}, "options": {"abs_tol": 0.0, "rel_tol": 0.0, "ignore_case": false, "ignore_spaces": false, "column_abs_tol": {}, "column_rel_tol": {}}, "seconds": 1.235, "equal": false}');
INSERT INTO "runs" VALUES(5,'rollback','2026-12-03T08:34:08.509991+00:00','2026-12-03T08:34:08.523743+00:00','failed','v1 is the first model ever promoted: there is nothing to roll back to',NULL,'duckdb','vm','root',10181,'0.1.0','62ff83b283fa3138','{}','{}');
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
INSERT INTO "source_files" VALUES(1,1,'prices',1,1,0,'brokers/broker_a','/tmp/hw0003/demo/brokers/broker_a/batch000_000.csv',806,1.79628323440968775751e+09,'sha256:ec8f17121f575e158516dfda5de29a7eda3f8e8f439979655dd4f25328bd80ea','csv','new',NULL,NULL,16,1,0,15,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 1, "values_cast": 94, "thousands_separators_removed": 16}');
INSERT INTO "source_files" VALUES(2,1,'prices',1,1,0,'brokers/broker_a','/tmp/hw0003/demo/brokers/broker_a/batch000_001.csv',808,1.79628323440968775751e+09,'sha256:73efe9cb4bb7db8c44ca71b86b2b2d746b4522cc82c9220e0db9b6a486ac263a','csv','new',NULL,NULL,16,1,0,15,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 95, "thousands_separators_removed": 16}');
INSERT INTO "source_files" VALUES(3,1,'prices',1,1,0,'brokers/broker_a','/tmp/hw0003/demo/brokers/broker_a/batch000_002.csv',796,1.79628323440968775751e+09,'sha256:56b3edc920d743fcd77743cb4dc6276ee12b7cbf745bffb078855442b3d19547','csv','new',NULL,NULL,16,0,0,16,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 16}');
INSERT INTO "source_files" VALUES(4,1,'prices',1,1,0,'brokers/broker_a','/tmp/hw0003/demo/brokers/broker_a/batch000_003.csv',807,1.79628323440968775751e+09,'sha256:c0943ffab762758803e55b499f22fa8d891fd42db570ec82d843e953085d27f1','csv','new',NULL,NULL,16,0,0,16,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 16}');
INSERT INTO "source_files" VALUES(5,1,'prices',1,1,1,'brokers/broker_b','/tmp/hw0003/demo/brokers/broker_b/batch000_000.jsonl',2023,1.79628323440968775751e+09,'sha256:19b73f24f977f602a84324404c55500a97c87a03eb37b83d23572f5e433288f3','jsonl','new',NULL,NULL,16,0,0,16,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(6,1,'prices',1,1,1,'brokers/broker_b','/tmp/hw0003/demo/brokers/broker_b/batch000_001.jsonl',2018,1.79628323440968775751e+09,'sha256:aaabd67bee8af56307b042ae3a344c9a445ae7db2aaf4aa3672a4928f791b702','jsonl','new',NULL,NULL,16,0,0,16,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 1, "values_cast": 95, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(7,1,'prices',1,1,1,'brokers/broker_b','/tmp/hw0003/demo/brokers/broker_b/batch000_002.jsonl',2015,1.79628323440968775751e+09,'sha256:e59ca8288519589c55a9a6401173c530942989b11b4fd1693221a863a19bacd8','jsonl','new',NULL,NULL,16,0,0,16,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(8,1,'prices',1,1,1,'brokers/broker_b','/tmp/hw0003/demo/brokers/broker_b/batch000_003.jsonl',2026,1.79628323440968775751e+09,'sha256:0f6d4135cd6206f5ffc54792e4127927c57e1b73f243ec1559e3a3dec887bab5','jsonl','new',NULL,NULL,16,0,0,16,0,0,'{"cells_trimmed": 1, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(9,1,'prices',1,1,2,'brokers/broker_c','/tmp/hw0003/demo/brokers/broker_c/batch000_000.parquet',2500,1.79628323440968775751e+09,'sha256:91f587fa578563c9566f7d2a70b4175ee718118f184d363ae85b5bfde12eb20d','parquet','new',NULL,NULL,16,0,0,16,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(10,1,'prices',1,1,2,'brokers/broker_c','/tmp/hw0003/demo/brokers/broker_c/batch000_001.parquet',2513,1.79628323440968775751e+09,'sha256:55c848be0edf12f9dda69cdbb17637bd0c3e185145029fd751d4cea6cf320859','parquet','new',NULL,NULL,16,0,0,16,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 1, "values_cast": 95, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(11,1,'prices',1,1,2,'brokers/broker_c','/tmp/hw0003/demo/brokers/broker_c/batch000_002.parquet',2531,1.79628323440968775751e+09,'sha256:38cad739580354184eac48dd9ae066bd93fce56c9445148c4a5aa0376ad972b5','parquet','new',NULL,NULL,16,0,0,16,0,0,'{"cells_trimmed": 1, "na_tokens_mapped": 0, "values_cast": 96, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(12,1,'prices',1,1,2,'brokers/broker_c','/tmp/hw0003/demo/brokers/broker_c/batch000_003.parquet',2486,1.79628323440968775751e+09,'sha256:9c898587a4bbd14deb51a02cfe3bbfdf8d8b9cafe5c98b87e4b96c103ccdf72d','parquet','new',NULL,NULL,16,0,0,16,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 1, "values_cast": 95, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(13,2,'prices',1,2,0,'brokers/broker_a','/tmp/hw0003/demo/brokers/broker_a/batch001_000.csv',241,1.79628323647069454188e+09,'sha256:479b372a7a41134d62827423f4e88673a396156808c1facbadabda9f1957c89b','csv','new',NULL,NULL,4,0,0,4,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 4}');
INSERT INTO "source_files" VALUES(14,2,'prices',1,2,0,'brokers/broker_a','/tmp/hw0003/demo/brokers/broker_a/batch001_001.csv',233,1.79628323647069454188e+09,'sha256:0ade12ca0135b91c6fc6371812df9897d1698bf059d460a9e50614698b6de79c','csv','new',NULL,NULL,4,0,0,4,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 4}');
INSERT INTO "source_files" VALUES(15,2,'prices',1,2,0,'brokers/broker_a','/tmp/hw0003/demo/brokers/broker_a/batch001_002.csv',233,1.79628323647069454188e+09,'sha256:aa74f0479f0acb6a8c2e50b5271567c0cdf40ea1ea845086d15ec42d2f9925fb','csv','new',NULL,NULL,4,0,0,4,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 4}');
INSERT INTO "source_files" VALUES(16,2,'prices',1,2,0,'brokers/broker_a','/tmp/hw0003/demo/brokers/broker_a/batch001_003.csv',243,1.79628323647069454188e+09,'sha256:1381c83f5e7f6779fb765cff6b000286b6f8cbf6c18e7f27496af65cce6e1a68','csv','new',NULL,NULL,4,0,0,4,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 4}');
INSERT INTO "source_files" VALUES(17,2,'prices',1,2,1,'brokers/broker_b','/tmp/hw0003/demo/brokers/broker_b/batch001_000.jsonl',501,1.79628323647069454188e+09,'sha256:ff303dc4ee433fd8c78c6e630709368ee1c4dc808058de9f31d24357b9c42a47','jsonl','new',NULL,NULL,4,0,0,4,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(18,2,'prices',1,2,1,'brokers/broker_b','/tmp/hw0003/demo/brokers/broker_b/batch001_001.jsonl',498,1.79628323647069454188e+09,'sha256:d1e6e152a60c02daf77185c7c35a4c958820ca9d4328f28706a7554b30a9192b','jsonl','new',NULL,NULL,4,0,0,4,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(19,2,'prices',1,2,1,'brokers/broker_b','/tmp/hw0003/demo/brokers/broker_b/batch001_002.jsonl',505,1.79628323647069454188e+09,'sha256:ab85bb119e7ea9f00d0ac2fad1165c46dd3bf43e609ca5f33d9ede701435ac20','jsonl','new',NULL,NULL,4,0,0,4,0,0,'{"cells_trimmed": 1, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(20,2,'prices',1,2,1,'brokers/broker_b','/tmp/hw0003/demo/brokers/broker_b/batch001_003.jsonl',500,1.79628323647069454188e+09,'sha256:53e052f3d3eaa76d04654a8ff94afd703430d909986a9594f2f28a5d6956f113','jsonl','new',NULL,NULL,4,0,0,4,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(21,2,'prices',1,2,2,'brokers/broker_c','/tmp/hw0003/demo/brokers/broker_c/batch001_000.parquet',1995,1.79628323647069454188e+09,'sha256:0c9cc80ad6b96326a2fb6ac4f8ad186989046ecb93d98c90fd43360f86ddc28d','parquet','new',NULL,NULL,4,0,0,4,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(22,2,'prices',1,2,2,'brokers/broker_c','/tmp/hw0003/demo/brokers/broker_c/batch001_001.parquet',2015,1.79628323647069454188e+09,'sha256:8a077abde5090a3112055129e94f5e4812315f0c7827ab383fb9275690ad0b6b','parquet','new',NULL,NULL,4,0,0,4,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(23,2,'prices',1,2,2,'brokers/broker_c','/tmp/hw0003/demo/brokers/broker_c/batch001_002.parquet',2016,1.79628323647069454188e+09,'sha256:12e4bbed0a25f66710cb3797adab7c230de4caeb4341a42a118f1b29fca52eaf','parquet','new',NULL,NULL,4,0,0,4,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}');
INSERT INTO "source_files" VALUES(24,2,'prices',1,2,2,'brokers/broker_c','/tmp/hw0003/demo/brokers/broker_c/batch001_003.parquet',2007,1.79628323647069454188e+09,'sha256:7c411576a4f6c6c313b505b54db879c02011828703772c13e3af2ebc5282f952','parquet','new',NULL,NULL,4,0,0,4,0,0,'{"cells_trimmed": 0, "na_tokens_mapped": 0, "values_cast": 24, "thousands_separators_removed": 0}');
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
INSERT INTO "versions" VALUES(1,'prices',1,1,NULL,1,'2026-12-03T08:33:56.435228+00:00',190,190,0,'[["date", "date"], ["ticker", "string"], ["peratio", "float"], ["price", "float"], ["volume", "int"], ["eps", "float"], ["up_next_day", "int"]]','/tmp/hw0003/demo/data/prices','{"files": {"new": 12, "changed": 0, "alias": 0, "missing": 0}, "rows_read": 192, "rows_rejected": 2, "duplicates_dropped": 0, "rows_superseded": 0, "rows_stale": 0, "schema_changes": {"pinned": {"date": "date", "ticker": "string", "peratio": "float", "price": "float", "volume": "int", "eps": "float", "up_next_day": "int"}}, "mode": "upsert", "key": ["date", "ticker"], "rebuild": false}');
INSERT INTO "versions" VALUES(2,'prices',2,1,1,2,'2026-12-03T08:33:57.281108+00:00',238,48,0,'[["date", "date"], ["ticker", "string"], ["peratio", "float"], ["price", "float"], ["volume", "int"], ["eps", "float"], ["up_next_day", "int"]]','/tmp/hw0003/demo/data/prices','{"files": {"new": 12, "changed": 0, "alias": 0, "missing": 0}, "rows_read": 48, "rows_rejected": 0, "duplicates_dropped": 0, "rows_superseded": 0, "rows_stale": 0, "schema_changes": {}, "mode": "upsert", "key": ["date", "ticker"], "rebuild": false}');
CREATE INDEX ix_runs_status ON runs (status);
CREATE INDEX ix_parts_line_version ON parts (dataset, line, version);
CREATE INDEX ix_source_files_run ON source_files (run_id);
CREATE INDEX ix_source_files_path ON source_files (dataset, line, path);
CREATE INDEX ix_file_state_hash ON file_state (dataset, line, hash);
CREATE INDEX ix_rejects_run ON rejects (run_id);
CREATE INDEX ix_comparisons_run ON comparisons (run_id);
COMMIT;
