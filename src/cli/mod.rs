//! The command line (docs/architecture.md): one `clap` struct, every flag also an environment
//! variable `TILANNEKUVA_…`, whose doc comment is its `--help` text. No environment reads
//! happen anywhere else.

mod analysis;
mod client;
mod floor;
mod loadgen;
mod network;
mod offline;
pub(crate) mod output;
mod serve;
mod tables;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub(crate) use client::export_json_line;
pub use loadgen::SYNTHETIC_SOURCE;

/// tilannekuva — Finland's national situation picture of regional development.
#[derive(Parser, Debug)]
#[command(name = "tilannekuva", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the service (embedded sled store, gRPC and HTTP).
    Serve(Box<ServeArgs>),
    /// Submit a CSV file as one atomic submission and print the receipt.
    Submit(SubmitArgs),
    /// Write an empty submission file for a region: the header and one row per indicator.
    Template(TemplateArgs),
    /// List the regions of the catalog (codes to use in files and commands).
    Regions(CatalogArgs),
    /// List the indicators of the catalog (ids, units, decimals, direction, rule, years).
    Indicators(IndicatorsArgs),
    /// Retract one cell (it leaves the picture, not the history).
    Retract(RetractArgs),
    /// A region's picture for a year.
    Picture(PictureArgs),
    /// The national picture for a year.
    National(NationalArgs),
    /// A region's series of one indicator.
    Series(SeriesArgs),
    /// The revision history of one cell.
    History(HistoryArgs),
    /// Export the raw log as NDJSON (one event per line).
    Export(ExportArgs),
    /// Import an NDJSON export into an empty data directory (offline).
    Import(ImportArgs),
    /// Import an official table (a PX or JSON-stat file, or a PxWeb API table) with its
    /// mapping: submitted through the API like any client, one submission per area; every
    /// figure names its release. `--dry-run` prints what it would submit and skip.
    ImportTable(ImportTableArgs),
    /// Check a data directory: hash chain, sequence gaps, and that the log rebuilds.
    Verify(VerifyArgs),
    /// List the peer groups (the NUTS-2 large areas, and any an admin defined).
    Groups(CatalogArgs),
    /// A peer group's picture for a year: the members side by side, the group value and
    /// the national value.
    Group(GroupArgs),
    /// Define or redefine peer groups (admin) from a CSV file (id,name_fi,name_sv,name_en,
    /// members (codes separated by spaces),source) or the bundled ones.
    DefineGroup(DefineGroupArgs),
    /// Reporting rounds: open one (admin), or see what each region has reported.
    #[command(subcommand)]
    Round(RoundCommand),
    /// How far apart the areas are on an indicator, year by year, and whether they
    /// converge: range, max/min, CV, population-weighted CV, Gini, top/bottom 20 %.
    Disparities(DisparitiesArgs),
    /// Targets against the figures: gap, pace needed, pace of the last five years, on track.
    Targets(TargetsArgs),
    /// Set (or restate) a target with its source: a national one (admin), a region's (its
    /// reporter or admin).
    SetTarget(SetTargetArgs),
    /// The areas most similar to an area on a set of indicators, and what made them close.
    Similar(SimilarArgs),
    /// The areas that improved most on an indicator over a span, on the same borders.
    Forerunners(ForerunnersArgs),
    /// Benchmark client: drive a running server and report throughput and latency.
    Loadgen(LoadgenArgs),
    /// Make a read replica the writer (admin): it takes the writer lease if free, applies
    /// the stream to its end and takes writes.
    Promote(CatalogArgs),
    /// Manage bearer tokens for the auth file.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand, Debug)]
pub enum RoundCommand {
    /// Open the reporting round of a year (admin), or reopen it with new terms.
    Open(RoundOpenArgs),
    /// Per region: what the round expects, what is reported, what is missing, what is
    /// overdue.
    Status(RoundStatusArgs),
}

#[derive(Args, Debug)]
pub struct GroupArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    #[command(flatten)]
    pub(crate) as_of: AsOfArgs,
    /// The group's id (see `tilannekuva groups`), e.g. FI1D.
    #[arg(long)]
    pub(crate) group: String,
    #[arg(long)]
    pub(crate) year: i32,
    /// Borders to compare on: latest (the default), own (each year's:
    /// those of the 1 January after it), or a division's year.
    #[arg(long, default_value = "latest")]
    pub(crate) borders: String,
}

#[derive(Args, Debug)]
pub struct DefineGroupArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    /// CSV file of groups.
    #[arg(long, required_unless_present = "bundled", conflicts_with = "bundled")]
    pub(crate) file: Option<PathBuf>,
    /// The bundled groups (the NUTS-2 large areas): for a store made before they were
    /// bundled. A group already defined so is left as it is (nothing recorded).
    #[arg(long)]
    pub(crate) bundled: bool,
}

/// The borders a span of years is compared on.
const SPAN_BORDERS: &str = "Borders to compare on: latest (the default), own (the last year's), \
                            or a division's year; every year of the span on the same ones";

#[derive(Args, Debug)]
pub struct DisparitiesArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    #[command(flatten)]
    pub(crate) as_of: AsOfArgs,
    #[arg(long)]
    pub(crate) indicator: String,
    /// The first year (or the only one).
    #[arg(long)]
    pub(crate) from: i32,
    /// The last year (default: --from).
    #[arg(long)]
    pub(crate) to: Option<i32>,
    /// The areas compared: region, municipality, sub_region or county.
    #[arg(long, default_value = "region")]
    pub(crate) level: String,
    #[arg(long, default_value = "latest", help = SPAN_BORDERS)]
    pub(crate) borders: String,
}

#[derive(Args, Debug)]
pub struct TargetsArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    #[command(flatten)]
    pub(crate) as_of: AsOfArgs,
    /// Only this area's targets (SSS for the national ones).
    #[arg(long)]
    pub(crate) area: Option<String>,
    /// Only this indicator's targets.
    #[arg(long)]
    pub(crate) indicator: Option<String>,
    /// Borders the figures are compared on: latest (the default) or a division's year.
    #[arg(long, default_value = "latest")]
    pub(crate) borders: String,
}

#[derive(Args, Debug)]
pub struct SetTargetArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    /// SSS (national: admin), a region or a municipality (its reporter or admin).
    #[arg(long)]
    pub(crate) area: String,
    /// A directional indicator.
    #[arg(long)]
    pub(crate) indicator: String,
    /// The year the target is for.
    #[arg(long)]
    pub(crate) year: i32,
    /// The value to reach, in the indicator's unit.
    #[arg(long)]
    pub(crate) value: f64,
    /// Where the target is set: the programme, act or strategy, with its date.
    #[arg(long)]
    pub(crate) source: String,
    /// What the target means beyond its number.
    #[arg(long, default_value = "")]
    pub(crate) note: String,
    /// Idempotency key (default: a fresh one; the same target again records nothing).
    #[arg(long)]
    pub(crate) submission_id: Option<String>,
}

#[derive(Args, Debug)]
pub struct SimilarArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    #[command(flatten)]
    pub(crate) as_of: AsOfArgs,
    /// A region, municipality, sub-region or county: compared with the others of its level.
    #[arg(long)]
    pub(crate) region: String,
    #[arg(long)]
    pub(crate) year: i32,
    /// An indicator to compare on, with an optional weight: `employment_rate_15_64:2`
    /// (repeat; default: the directional rates and shares two thirds of the areas reported).
    #[arg(long)]
    pub(crate) indicator: Vec<String>,
    /// How many similar areas (1-50).
    #[arg(long, default_value_t = crate::read::DEFAULT_SIMILAR,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::read::MAX_SIMILAR)))]
    pub(crate) k: u32,
    /// Borders to compare on: latest (the default), own, or a division's year.
    #[arg(long, default_value = "latest")]
    pub(crate) borders: String,
}

#[derive(Args, Debug)]
pub struct ForerunnersArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    #[command(flatten)]
    pub(crate) as_of: AsOfArgs,
    /// A directional indicator.
    #[arg(long)]
    pub(crate) indicator: String,
    #[arg(long)]
    pub(crate) from: i32,
    #[arg(long)]
    pub(crate) to: i32,
    /// The areas compared: region, municipality, sub_region or county.
    #[arg(long, default_value = "region")]
    pub(crate) level: String,
    /// How many to list (1-500).
    #[arg(long, default_value_t = crate::read::DEFAULT_FORERUNNERS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::read::MAX_FORERUNNERS)))]
    pub(crate) limit: u32,
    #[arg(long, default_value = "latest", help = SPAN_BORDERS)]
    pub(crate) borders: String,
}

#[derive(Args, Debug)]
pub struct RoundOpenArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    /// The year the round is for (the year whose figures are reported).
    #[arg(long)]
    pub(crate) year: i32,
    /// The deadline: a date (the end of that day, Finnish time: 2026-09-30 is until
    /// 23:59:59 EEST), a Finnish time (2026-09-30T16:00) or RFC 3339 with an offset.
    #[arg(long)]
    pub(crate) deadline: String,
    /// Open the round even though its deadline has passed (every region is overdue at
    /// once); without it such a deadline is refused, being most likely a typo.
    #[arg(long)]
    pub(crate) allow_past: bool,
    /// An expected indicator (repeat; default: every indicator regions report).
    #[arg(long)]
    pub(crate) indicator: Vec<String>,
    /// An expected region (repeat; default: every region but SSS).
    #[arg(long)]
    pub(crate) region: Vec<String>,
    /// Idempotency key (default: a fresh one; opening the round again with the same terms
    /// records nothing).
    #[arg(long)]
    pub(crate) submission_id: Option<String>,
}

#[derive(Args, Debug)]
pub struct RoundStatusArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    #[command(flatten)]
    pub(crate) as_of: AsOfArgs,
    /// The year the round is for (the year whose figures are reported).
    #[arg(long)]
    pub(crate) year: i32,
    /// Only this region, with the indicators it still owes.
    #[arg(long)]
    pub(crate) region: Option<String>,
    /// List the indicators every region still owes, below the table.
    #[arg(long)]
    pub(crate) verbose: bool,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Print a fresh random token alone on the first line, then the TOML entry (its hash
    /// only) to append to the auth file.
    New(TokenNewArgs),
}

#[derive(Args, Debug)]
pub struct TokenNewArgs {
    /// The token's name: recorded as the principal of the events it writes.
    #[arg(long)]
    pub(crate) name: String,
    /// reporter | national_reporter | publisher | reader | admin (a publisher writes
    /// official figures for every area: a statistics office's `import-table`).
    #[arg(long)]
    pub(crate) role: String,
    /// A region a reporter may write (repeat for several).
    #[arg(long)]
    pub(crate) region: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Directory of the sled store.
    #[arg(
        long,
        env = "TILANNEKUVA_DATA_DIR",
        default_value = "./tilannekuva-data"
    )]
    pub(crate) data_dir: PathBuf,
    /// gRPC listen address.
    #[arg(
        long,
        env = "TILANNEKUVA_GRPC_LISTEN",
        default_value = "127.0.0.1:50051"
    )]
    pub(crate) grpc_listen: SocketAddr,
    /// HTTP listen address (/metrics, /healthz, /readyz, the open data under /v1/ and
    /// /openapi.json; TLS with --tls-cert, as gRPC).
    #[arg(
        long,
        env = "TILANNEKUVA_HTTP_LISTEN",
        default_value = "127.0.0.1:9464"
    )]
    pub(crate) http_listen: SocketAddr,
    /// Auth file (TOML) of hashed bearer tokens and roles (`tilannekuva token new` makes
    /// entries). Reloaded on SIGHUP. Without it every caller may do everything, so the
    /// server then listens on loopback only, unless --insecure.
    #[arg(long, env = "TILANNEKUVA_AUTH_FILE")]
    pub(crate) auth_file: Option<PathBuf>,
    /// Allow listening on a non-loopback address without an auth file.
    #[arg(long, env = "TILANNEKUVA_INSECURE")]
    pub(crate) insecure: bool,
    /// TLS certificate chain (PEM) for the gRPC port; needs --tls-key.
    #[arg(long, env = "TILANNEKUVA_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for the gRPC port; needs --tls-cert.
    #[arg(long, env = "TILANNEKUVA_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// NATS server URL (JetStream): run as the writer, publishing every committed event to
    /// the stream (`--nats-stream`). A store behind the stream takes the missing events
    /// from it before serving.
    #[arg(long, env = "TILANNEKUVA_NATS_URL", conflicts_with = "follow")]
    pub(crate) nats_url: Option<String>,
    /// NATS server URL (JetStream): run as a read replica following the writer's stream
    /// into this server's own store. Writes are refused (FAILED_PRECONDITION).
    #[arg(long, env = "TILANNEKUVA_FOLLOW")]
    pub(crate) follow: Option<String>,
    /// The JetStream stream that holds the log.
    #[arg(long, env = "TILANNEKUVA_NATS_STREAM", default_value = "TILANNEKUVA")]
    pub(crate) nats_stream: String,
    /// Replicas of the stream when the writer creates it (3 on a three-node cluster).
    #[arg(long, env = "TILANNEKUVA_NATS_REPLICAS", default_value_t = 1)]
    pub(crate) nats_replicas: usize,
    /// When a write is acknowledged: `async` once durable in the local store (the stream
    /// follows); `sync` once also acknowledged by the stream (a quorum of its replicas).
    #[arg(long, env = "TILANNEKUVA_REPLICATION", value_enum, default_value_t = crate::replication::Mode::Async)]
    pub(crate) replication: crate::replication::Mode,
    /// In `sync` mode: seconds an answer waits for the stream before it is `UNAVAILABLE`
    /// (the write is durable locally; a retry with the same submission id is safe).
    #[arg(long, env = "TILANNEKUVA_REPLICATION_TIMEOUT", default_value_t = 10.0)]
    pub(crate) replication_timeout: f64,
    /// With --follow: take over as the writer when the writer's lease lapses.
    #[arg(long, env = "TILANNEKUVA_STANDBY", requires = "follow")]
    pub(crate) standby: bool,
    /// Seconds the writer lease lives without renewal (renewed every third of it): how
    /// long a standby waits before taking over from a writer that is gone.
    #[arg(long, env = "TILANNEKUVA_LEASE_TTL", default_value_t = 10.0)]
    pub(crate) lease_ttl: f64,
    /// The gRPC address clients should use for writes to this server when it is the
    /// writer, stored in the lease (default: http://<--grpc-listen>).
    #[arg(long, env = "TILANNEKUVA_ADVERTISE_URL")]
    pub(crate) advertise_url: Option<String>,
    /// This machine's name, in the writer lease's holder id (with the process id and a
    /// random number), so that an operator sees which server holds the lease.
    #[arg(long, env = "HOSTNAME", default_value = "host", hide = true)]
    pub(crate) hostname: std::ffi::OsString,
    /// Events between snapshots of the write state and projection (`DATA_DIR/snapshot`),
    /// from which a start replays only the log after them; also written at a clean stop.
    /// 0: no snapshots (every start replays the whole log).
    #[arg(long, env = "TILANNEKUVA_SNAPSHOT_EVERY", default_value_t = crate::snapshot::DEFAULT_EVERY)]
    pub(crate) snapshot_every: u64,
    /// Load the bundled real sample data when the store holds no observations.
    #[arg(long, env = "TILANNEKUVA_DEMO")]
    pub(crate) demo: bool,
    /// Write the server's process id to this file once it listens (removed at a clean
    /// stop), so that a reload signals this instance only:
    /// `kill -HUP "$(cat FILE)"`.
    #[arg(long, env = "TILANNEKUVA_PID_FILE")]
    pub(crate) pid_file: Option<PathBuf>,
    /// Region catalog CSV put into an empty log (default: the bundled Finnish regions).
    #[arg(long, env = "TILANNEKUVA_REGION_CATALOG")]
    pub(crate) region_catalog: Option<PathBuf>,
    /// Indicator catalog CSV put into an empty log (default: the bundled catalog).
    #[arg(long, env = "TILANNEKUVA_INDICATOR_CATALOG")]
    pub(crate) indicator_catalog: Option<PathBuf>,
    /// Peer group CSV put into an empty log (default: the bundled NUTS-2 large areas with
    /// the bundled regions; none with a region catalog of one's own).
    #[arg(long, env = "TILANNEKUVA_GROUP_CATALOG")]
    pub(crate) group_catalog: Option<PathBuf>,
    /// Target CSV put into an empty log (`area,indicator,year,value,source,note`; default:
    /// the bundled national targets with the bundled indicators, none with an indicator
    /// catalog of one's own).
    #[arg(long, env = "TILANNEKUVA_TARGET_CATALOG")]
    pub(crate) target_catalog: Option<PathBuf>,
    /// Municipality key CSV put into an empty log: one row per municipality and year
    /// (`year,municipality,name_fi,name_sv,name_en,region`, optionally `sub_region`,
    /// `sub_region_name_fi`, `wellbeing_county`, `wellbeing_county_name_fi`; default:
    /// Statistics Finland's key 2013-2026 with the bundled regions, none with a region
    /// catalog of one's own).
    #[arg(long, env = "TILANNEKUVA_MUNICIPALITY_KEY")]
    pub(crate) municipality_key: Option<PathBuf>,
    /// Municipal mergers CSV (`date,municipality,name_fi,joined,joined_name_fi`), with the
    /// municipality key (default: the bundled mergers 2000-2026).
    #[arg(long, env = "TILANNEKUVA_MERGERS")]
    pub(crate) mergers: Option<PathBuf>,
    /// Division CSV (`year,source`): the borders figures can be on (default: the bundled
    /// divisions 2000-2026 with the bundled regions).
    #[arg(long, env = "TILANNEKUVA_DIVISIONS")]
    pub(crate) divisions: Option<PathBuf>,
}

/// Where the server is, for client commands.
#[derive(Args, Debug, Clone)]
pub(crate) struct ServerArg {
    /// gRPC address of the server.
    #[arg(
        long,
        env = "TILANNEKUVA_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub(crate) server: String,
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Language of region and indicator names in tables: fi, sv or en.
    #[arg(long, default_value = "en", value_parser = ["fi", "sv", "en"])]
    pub(crate) lang: String,
}

/// Credentials and trust for client commands.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ConnArgs {
    /// Bearer token (sent as `authorization: Bearer <token>`).
    #[arg(long, env = "TILANNEKUVA_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// CA certificate (PEM) to trust for an https:// server.
    #[arg(long, env = "TILANNEKUVA_CA_CERT")]
    pub(crate) ca_cert: Option<PathBuf>,
}

/// As-of point for reads.
#[derive(Args, Debug, Clone)]
pub(crate) struct AsOfArgs {
    /// Answer as of this log sequence.
    #[arg(long, conflicts_with = "as_of_time")]
    pub(crate) as_of_sequence: Option<u64>,
    /// Answer as the log stood at this time: a date (the end of that day, Finnish time), a
    /// Finnish time (2024-03-01T12:00) or RFC 3339 with an offset (2024-03-01T10:00:00Z).
    #[arg(long, conflicts_with = "published_by")]
    pub(crate) as_of_time: Option<String>,
    /// Answer with the figures published by then, whatever day they were recorded: a date
    /// (the end of that day, Finnish time), a Finnish time or RFC 3339, e.g. 2021-06-01.
    #[arg(long, conflicts_with = "as_of_sequence")]
    pub(crate) published_by: Option<String>,
}

#[derive(Args, Debug)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    /// CSV file: indicator_id,year,value,status,source[,note,correction_reason][,region_code].
    #[arg(long)]
    pub(crate) file: PathBuf,
    /// Region of rows without a region_code column.
    #[arg(long)]
    pub(crate) region: Option<String>,
    /// Idempotency key (default: derived from the file's content, so a rerun is a duplicate).
    #[arg(long)]
    pub(crate) submission_id: Option<String>,
    /// Refuse unless the region is at exactly this revision.
    #[arg(long)]
    pub(crate) expected_region_revision: Option<u64>,
    /// Check everything (file, catalog, permissions, revisions) and say what would be
    /// recorded, writing nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Args, Debug)]
pub struct ImportTableArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    /// The table: a PX file (PC-Axis, any code page it declares) or a JSON-stat 2.0 file.
    #[arg(long, conflicts_with = "url")]
    pub(crate) file: Option<PathBuf>,
    /// A PxWeb API table address (…/api/v1/fi/StatFin/…/statfin_rpk_pxt_135l.px): the
    /// table is fetched as JSON-stat, split under --cell-limit.
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// With --url: the PxWeb query (JSON, as PxWeb's "API query" shows it); without, every
    /// category of every dimension.
    #[arg(long, requires = "url")]
    pub(crate) query: Option<PathBuf>,
    /// With --url: a directory to save the answers imported (part-000.json, …).
    #[arg(long, requires = "url")]
    pub(crate) save: Option<PathBuf>,
    /// With --url: most cells asked for in one request (StatFin answers at most 100 000).
    #[arg(long, default_value_t = 100_000)]
    pub(crate) cell_limit: u64,
    /// With --url: retries of one request answered 429 or 5xx (or not answered).
    #[arg(long, default_value_t = 6)]
    pub(crate) retries: u32,
    /// With --url: the first wait before a retry, doubled each time (a Retry-After header
    /// wins), in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub(crate) backoff_ms: u64,
    /// With --url: the least time between two requests, in milliseconds (StatFin allows 30
    /// requests in 10 seconds).
    #[arg(long, default_value_t = 350)]
    pub(crate) min_interval_ms: u64,
    /// The table's mapping (TOML): area, time, indicators, selections, borders.
    #[arg(long)]
    pub(crate) mapping: PathBuf,
    /// Print what would be submitted and what is skipped, with reasons; send nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Args, Debug)]
pub struct TemplateArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    /// Region the file is for (a catalog code such as MK01, or 01).
    #[arg(long)]
    pub(crate) region: String,
    /// Year to fill in on every row (default: left empty).
    #[arg(long)]
    pub(crate) year: Option<i32>,
    /// Only the indicators of this theme.
    #[arg(long)]
    pub(crate) theme: Option<String>,
    /// Field separator: semicolon (what a Finnish-locale spreadsheet opens and saves; the
    /// file then starts with a UTF-8 byte order mark so that the spreadsheet reads ä and ö)
    /// or comma.
    #[arg(long, default_value = "semicolon", value_parser = ["semicolon", "comma"])]
    pub(crate) separator: String,
    /// Output file (default: standard output).
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CatalogArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
}

#[derive(Args, Debug)]
pub struct IndicatorsArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    /// Only the indicators of this theme (climate, communities, competence, inclusion,
    /// business).
    #[arg(long)]
    pub(crate) theme: Option<String>,
}

#[derive(Args, Debug)]
pub struct RetractArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    #[arg(long)]
    pub(crate) region: String,
    #[arg(long)]
    pub(crate) indicator: String,
    #[arg(long)]
    pub(crate) year: i32,
    /// Why the value is retracted (required).
    #[arg(long)]
    pub(crate) reason: String,
    /// The borders of the figure (a division's year); without: the division in force now.
    #[arg(long)]
    pub(crate) borders: Option<i32>,
    /// Idempotency key (default: derived from the other arguments).
    #[arg(long)]
    pub(crate) submission_id: Option<String>,
}

#[derive(Args, Debug)]
pub struct PictureArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    #[command(flatten)]
    pub(crate) as_of: AsOfArgs,
    /// A region (MK01) or a municipality (KU091).
    #[arg(long)]
    pub(crate) region: String,
    #[arg(long)]
    pub(crate) year: i32,
    /// Borders to compare on: latest (the default), own (each year's:
    /// those of the 1 January after it), or a division's year.
    #[arg(long, default_value = "latest")]
    pub(crate) borders: String,
}

#[derive(Args, Debug)]
pub struct NationalArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    #[command(flatten)]
    pub(crate) as_of: AsOfArgs,
    #[arg(long)]
    pub(crate) year: i32,
    /// Borders to compare on: latest (the default), own (each year's:
    /// those of the 1 January after it), or a division's year.
    #[arg(long, default_value = "latest")]
    pub(crate) borders: String,
}

#[derive(Args, Debug)]
pub struct SeriesArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    #[command(flatten)]
    pub(crate) as_of: AsOfArgs,
    #[arg(long)]
    pub(crate) region: String,
    #[arg(long)]
    pub(crate) indicator: String,
    #[arg(long, default_value_t = 0)]
    pub(crate) from_year: i32,
    #[arg(long, default_value_t = 0)]
    pub(crate) to_year: i32,
    /// Borders to compare on: latest (the default), own (each year's:
    /// those of the 1 January after it), or a division's year.
    #[arg(long, default_value = "latest")]
    pub(crate) borders: String,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub(crate) server: ServerArg,
    #[command(flatten)]
    pub(crate) as_of: AsOfArgs,
    #[arg(long)]
    pub(crate) region: String,
    #[arg(long)]
    pub(crate) indicator: String,
    #[arg(long)]
    pub(crate) year: i32,
    /// The borders of the cell (a division's year); without: its trails on every borders.
    #[arg(long)]
    pub(crate) borders: Option<i32>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// gRPC address of the server.
    #[arg(
        long,
        env = "TILANNEKUVA_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub(crate) server: String,
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    /// Read a stopped server's data directory directly instead of asking a server: also a
    /// store the server refuses to start on, up to its last intact event.
    #[arg(long, conflicts_with = "server")]
    pub(crate) data_dir: Option<PathBuf>,
    /// First sequence to export.
    #[arg(long, default_value_t = 1)]
    pub(crate) from_sequence: u64,
    /// Output file (default: standard output).
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Empty (or new) data directory to import into.
    #[arg(long, env = "TILANNEKUVA_DATA_DIR")]
    pub(crate) data_dir: PathBuf,
    /// NDJSON export file.
    #[arg(long)]
    pub(crate) input: PathBuf,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Data directory to check (the server must not be running on it).
    #[arg(long, env = "TILANNEKUVA_DATA_DIR")]
    pub(crate) data_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct LoadgenArgs {
    /// gRPC address of the server.
    #[arg(
        long,
        env = "TILANNEKUVA_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub(crate) server: String,
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    /// Concurrent clients, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    pub(crate) clients: usize,
    /// HTTP/2 connections shared by the clients (2 measured best on 2 cores).
    #[arg(long, default_value_t = 2)]
    pub(crate) connections: usize,
    /// Observations per submission.
    #[arg(long, default_value_t = 1)]
    pub(crate) batch: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) duration: f64,
    /// Write even if the server's log holds figures other than loadgen's own synthetic
    /// ones. loadgen writes synthetic values into real regions' cells: on a server with
    /// real data it would move real figures, so by default it refuses.
    #[arg(long)]
    pub(crate) allow_real_data: bool,
    /// Scrape `--metrics-url` from this many concurrent connections in alternate phases:
    /// the run switches every `--phase` seconds between no scrapers and N scrapers, and
    /// reports the submit latency of each side by side.
    #[arg(long, default_value_t = 0)]
    pub(crate) scrapers: usize,
    /// The `/metrics` address the scrapers read (plain HTTP/1.1).
    #[arg(long, default_value = "http://127.0.0.1:9464/metrics")]
    pub(crate) metrics_url: String,
    /// Seconds per phase when `--scrapers` is given.
    #[arg(long, default_value_t = 2.0)]
    pub(crate) phase: f64,
    /// Read instead of write: `region` (GetRegionPicture) or `national`
    /// (GetNationalPicture), for the years and regions the log holds, round robin; or
    /// `health` (the health Check, which the server answers from the request's headers
    /// without any work: the floor of one RPC through this server's stack and this client);
    /// or `open-data` (the region picture as JSON-stat over HTTP, `--http-url`, one
    /// keep-alive connection per client); or what the network uses the picture for:
    /// `similar` (GetSimilarAreas of each area, default indicators, k 7), `disparities`
    /// (GetDisparities of a year, each indicator that compares areas, at the level of
    /// `--areas`), `forerunners` (GetForerunners over the five years to a year, each
    /// directional indicator that compares areas) or `targets` (GetTargets, all).
    #[arg(long, value_parser = ["region", "national", "health", "open-data", "similar",
        "disparities", "forerunners", "targets"])]
    pub(crate) read: Option<String>,
    /// With `--read region`: compare with a floor, side by side in one run — a server of
    /// loadgen's own that does no work but answer every read with the bytes the service
    /// answered it with, over the same gRPC stack and from the same clients; the run
    /// alternates between the two and reports both and their ratio.
    #[arg(long)]
    pub(crate) floor: bool,
    /// The HTTP address `--read open-data` reads (plain HTTP/1.1).
    #[arg(long, default_value = "http://127.0.0.1:9464")]
    pub(crate) http_url: String,
    /// With `--read`: offer this many requests per second in all (open loop; requests sent
    /// late because the clients fell behind are counted); 0 = each client sends its next
    /// request when the last is answered.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) rate: f64,
    /// With `--read`: read as of this sequence (0 = latest). An as-of read before the last
    /// change of a year's figures computes them instead of using the kept ones.
    #[arg(long, default_value_t = 0)]
    pub(crate) as_of_sequence: u64,
    /// The areas written and read: `regions` (the regions compared now) or `municipalities`
    /// (those of the latest division: a store at municipal scale).
    #[arg(long, default_value = "regions")]
    pub(crate) areas: String,
    /// gRPC address of a read replica: measure, for every acknowledged submission, how long
    /// after the acknowledgement the replica's event feed (`ReadEvents` with `follow`)
    /// delivers it.
    #[arg(long)]
    pub(crate) replica: Option<String>,
}

/// Runs a command. A reader that closed the output pipe (`| head`) ends a client command
/// quietly; the server's errors are always errors.
pub async fn run(command: Command) -> anyhow::Result<()> {
    let done = match command {
        Command::Serve(a) => return serve::serve(*a).await,
        Command::Submit(a) => client::submit(a).await,
        Command::Template(a) => client::template(a).await,
        Command::Regions(a) => client::regions(a).await,
        Command::Indicators(a) => client::indicators(a).await,
        Command::Retract(a) => client::retract(a).await,
        Command::Promote(a) => client::promote(a).await,
        Command::Picture(a) => client::picture(a).await,
        Command::National(a) => client::national(a).await,
        Command::Series(a) => client::series(a).await,
        Command::History(a) => client::history(a).await,
        Command::Export(a) => client::export(a).await,
        Command::Import(a) => offline::import_cmd(a),
        Command::ImportTable(a) => tables::import_table(a).await,
        Command::Verify(a) => offline::verify_cmd(a),
        Command::Groups(a) => network::groups(a).await,
        Command::Group(a) => network::group(a).await,
        Command::DefineGroup(a) => network::define_group(a).await,
        Command::Round(RoundCommand::Open(a)) => network::round_open(a).await,
        Command::Round(RoundCommand::Status(a)) => network::round_status(a).await,
        Command::Disparities(a) => analysis::disparities(a).await,
        Command::Targets(a) => analysis::targets(a).await,
        Command::SetTarget(a) => analysis::set_target(a).await,
        Command::Similar(a) => analysis::similar(a).await,
        Command::Forerunners(a) => analysis::forerunners(a).await,
        Command::Loadgen(a) => loadgen::run(a).await,
        Command::Token(TokenCommand::New(a)) => token_new(a),
    };
    match done {
        Err(e) if output::is_broken_pipe(&e) => Ok(()),
        r => r,
    }
}

fn token_new(a: TokenNewArgs) -> anyhow::Result<()> {
    use anyhow::bail;
    let Some(role) = crate::auth::Role::parse(&a.role) else {
        bail!("--role must be reporter, national_reporter, publisher, reader or admin");
    };
    let catalog = crate::domain::Catalog::bundled();
    let mut regions = Vec::new();
    for r in &a.region {
        match catalog.resolve_region(r) {
            Some(region) => regions.push(region.code.clone()),
            None => bail!("unknown region {r:?}"),
        }
    }
    match role {
        crate::auth::Role::Reporter if regions.is_empty() => {
            bail!("a reporter needs at least one --region")
        }
        crate::auth::Role::Reporter => {}
        _ if !regions.is_empty() => bail!("only a reporter takes --region"),
        _ => {}
    }
    let token =
        crate::auth::new_token().map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    let regions: Vec<String> = regions.iter().map(|r| format!("{r:?}")).collect();
    let mut out = format!(
        "{token}\n\n[[token]]\nname = {:?}\nrole = {:?}\n",
        a.name,
        role.as_str()
    );
    if !regions.is_empty() {
        out.push_str(&format!("regions = [{}]\n", regions.join(", ")));
    }
    out.push_str(&format!(
        "sha256 = {:?}\n",
        hex::encode(crate::auth::token_hash(&token))
    ));
    output::emit(&out)
}
