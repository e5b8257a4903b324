"""The object-store options delta-rs takes, per URI scheme, and the check that refuses any
other key before anything is sent.

delta-rs ignores a key it does not know: a misspelt ``AWS_ENDPOIN_URL`` sends the requests
to the public AWS endpoint with whatever credentials the environment holds (or asks the
cloud metadata address for some). :func:`check_storage_options` makes that a
:class:`~ls_frames.ConfigurationError` naming the key and the closest known one.

The keys are those of the ``object_store`` crate's ``AmazonS3ConfigKey``,
``GoogleConfigKey``, ``AzureConfigKey`` and ``ClientConfigKey`` (``FromStr``, with their
aliases and the ``aws_`` / ``google_`` / ``azure_`` prefixed client keys), delta-rs's own
(``crates/aws/src/constants.rs``: the S3 locking provider, DynamoDB lock table, IAM role)
and the store-independent ones delta-rs reads (retries, its IO runtime, the concurrency
limit, the log cache). Keys are compared ignoring case, as delta-rs lowercases them for
``object_store``. A URI of another scheme (``hdfs://``, ``lakefs://``, ...) is not checked.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping

from ls_frames.errors import ConfigurationError

__all__ = ["STORAGE_OPTION_KEYS", "check_storage_options", "storage_scheme"]

#: the ``object_store`` HTTP client's keys (every store takes them, with its own prefix)
_CLIENT = (
    "allow_http",
    "allow_invalid_certificates",
    "connect_timeout",
    "default_content_type",
    "http1_only",
    "http2_only",
    "http2_keep_alive_interval",
    "http2_keep_alive_timeout",
    "http2_keep_alive_while_idle",
    "http2_max_frame_size",
    "pool_idle_timeout",
    "pool_max_idle_per_host",
    "proxy_url",
    "proxy_ca_certificate",
    "proxy_excludes",
    "randomize_addresses",
    "timeout",
    "user_agent",
)

#: what delta-rs itself reads, whatever the store
_DELTA = (
    "max_retries",
    "retry_timeout",
    "init_backoff",
    "backoff_config.init_backoff",
    "backoff.init_backoff",
    "max_backoff",
    "backoff_config.max_backoff",
    "backoff.max_backoff",
    "base",
    "backoff_config.base",
    "backoff.base",
    "multi_threaded",
    "worker_threads",
    "thread_name",
    "enable_io",
    "enable_time",
    "max_size_memory_mb",
    "max_size_disk_mb",
    "directory",
    "object_store_concurrency_limit",
)

_S3 = (
    "aws_access_key_id",
    "access_key_id",
    "aws_secret_access_key",
    "secret_access_key",
    "aws_default_region",
    "default_region",
    "aws_region",
    "region",
    "aws_bucket",
    "aws_bucket_name",
    "bucket_name",
    "bucket",
    "aws_endpoint_url",
    "aws_endpoint",
    "endpoint_url",
    "endpoint",
    "aws_session_token",
    "aws_token",
    "session_token",
    "token",
    "aws_virtual_hosted_style_request",
    "virtual_hosted_style_request",
    "aws_s3_express",
    "s3_express",
    "aws_imdsv1_fallback",
    "imdsv1_fallback",
    "aws_metadata_endpoint",
    "metadata_endpoint",
    "aws_unsigned_payload",
    "unsigned_payload",
    "aws_checksum_algorithm",
    "checksum_algorithm",
    "aws_container_credentials_relative_uri",
    "container_credentials_relative_uri",
    "aws_container_credentials_full_uri",
    "container_credentials_full_uri",
    "aws_container_authorization_token_file",
    "container_authorization_token_file",
    "aws_web_identity_token_file",
    "web_identity_token_file",
    "aws_role_arn",
    "role_arn",
    "aws_role_session_name",
    "role_session_name",
    "aws_endpoint_url_sts",
    "endpoint_url_sts",
    "aws_skip_signature",
    "skip_signature",
    "aws_copy_if_not_exists",
    "copy_if_not_exists",
    "aws_conditional_put",
    "conditional_put",
    "aws_disable_tagging",
    "disable_tagging",
    "aws_request_payer",
    "request_payer",
    "aws_server_side_encryption",
    "server_side_encryption",
    "aws_sse_kms_key_id",
    "sse_kms_key_id",
    "aws_sse_bucket_key_enabled",
    "sse_bucket_key_enabled",
    "aws_sse_customer_key_base64",
    "sse_customer_key_base64",
    # delta-rs's own (crates/aws/src/constants.rs)
    "aws_profile",
    "aws_s3_addressing_style",
    "aws_s3_locking_provider",
    "aws_iam_role_arn",
    "aws_iam_role_session_name",
    "aws_s3_assume_role_arn",
    "aws_s3_role_session_name",
    "aws_s3_pool_idle_timeout_seconds",
    "aws_sts_pool_idle_timeout_seconds",
    "aws_s3_get_internal_server_error_retries",
    "aws_s3_allow_unsafe_rename",
    "aws_ec2_metadata_disabled",
    "aws_ec2_metadata_timeout",
    "aws_force_credential_load",
    "aws_endpoint_url_dynamodb",
    "aws_region_dynamodb",
    "aws_access_key_id_dynamodb",
    "aws_secret_access_key_dynamodb",
    "aws_session_token_dynamodb",
    "delta_dynamo_table_name",
    "delta_dynamo_billing_mode",
    "delta_dynamo_max_elapsed_request_time",
)

_GCS = (
    "google_service_account",
    "service_account",
    "google_service_account_path",
    "service_account_path",
    "google_service_account_key",
    "service_account_key",
    "google_bucket",
    "google_bucket_name",
    "bucket",
    "bucket_name",
    "google_base_url",
    "base_url",
    "google_application_credentials",
    "application_credentials",
    "google_bearer_token",
    "bearer_token",
    "google_skip_signature",
    "skip_signature",
)

_AZURE = (
    "azure_storage_account_key",
    "azure_storage_access_key",
    "azure_storage_master_key",
    "master_key",
    "account_key",
    "access_key",
    "azure_storage_account_name",
    "account_name",
    "azure_storage_client_id",
    "azure_client_id",
    "client_id",
    "azure_storage_client_secret",
    "azure_client_secret",
    "client_secret",
    "azure_storage_tenant_id",
    "azure_storage_authority_id",
    "azure_tenant_id",
    "azure_authority_id",
    "tenant_id",
    "authority_id",
    "azure_storage_authority_host",
    "azure_authority_host",
    "authority_host",
    "azure_storage_sas_key",
    "azure_storage_sas_token",
    "sas_key",
    "sas_token",
    "azure_storage_token",
    "bearer_token",
    "token",
    "azure_storage_use_emulator",
    "use_emulator",
    "azure_storage_endpoint",
    "azure_endpoint",
    "endpoint",
    "azure_msi_endpoint",
    "azure_identity_endpoint",
    "identity_endpoint",
    "msi_endpoint",
    "azure_object_id",
    "object_id",
    "azure_msi_resource_id",
    "msi_resource_id",
    "azure_federated_token_file",
    "federated_token_file",
    "azure_use_fabric_endpoint",
    "use_fabric_endpoint",
    "azure_use_azure_cli",
    "use_azure_cli",
    "azure_skip_signature",
    "skip_signature",
    "azure_container_name",
    "container_name",
    "azure_disable_tagging",
    "disable_tagging",
    "azure_fabric_token_service_url",
    "fabric_token_service_url",
    "azure_fabric_workload_host",
    "fabric_workload_host",
    "azure_fabric_session_token",
    "fabric_session_token",
    "azure_fabric_cluster_identifier",
    "fabric_cluster_identifier",
)


def _store(keys: Iterable[str], prefix: str | None) -> frozenset[str]:
    client = {*_CLIENT, *(f"{prefix}_{k}" for k in _CLIENT)} if prefix else set()
    return frozenset({*keys, *client, *_DELTA})


#: the keys each store takes (lower case), by the URI schemes that reach it
STORAGE_OPTION_KEYS: dict[str, frozenset[str]] = {
    "s3": _store(_S3, "aws"),
    "gcs": _store(_GCS, "google"),
    "azure": _store(_AZURE, "azure"),
    "local": _store((), None),
}

_SCHEMES = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
    "adl": "azure",
    "azure": "azure",
    "file": "local",
    "memory": "local",
}


def storage_scheme(uri: str | os.PathLike[str]) -> str | None:
    """Which store ``uri`` reaches: ``"s3"``, ``"gcs"``, ``"azure"``, ``"local"`` (a path,
    ``file://``), or ``None`` for a scheme not checked here."""
    text = os.fspath(uri)
    scheme, sep, _ = text.partition("://")
    if not sep:
        return "local"
    return _SCHEMES.get(scheme.lower())


def check_storage_options(
    uri: str | os.PathLike[str], storage_options: Mapping[str, str] | None
) -> None:
    """Refuse, before any request, an option the store behind ``uri`` does not take.

    Raises
    ------
    ConfigurationError
        ``storage_options`` is not a mapping of strings, or a key is unknown for the
        URI's store (the message names the key and the closest known one).
    """
    if storage_options is None:
        return
    if not isinstance(storage_options, Mapping):
        raise ConfigurationError(
            f"storage_options must be a dict of strings, not {type(storage_options).__name__}"
        )
    store = storage_scheme(uri)
    for key, value in storage_options.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigurationError(
                f"storage_options take strings: {key!r}: {value!r} (write booleans as 'true')"
            )
        if store is None:
            continue
        known = STORAGE_OPTION_KEYS[store]
        if key.lower() in known:
            continue
        raise ConfigurationError(_unknown(key, store, known, os.fspath(uri)))


def _unknown(key: str, store: str, known: frozenset[str], uri: str) -> str:
    upper = key.isupper()
    close = difflib.get_close_matches(key.lower(), sorted(known), n=1, cutoff=0.6)
    hint = ""
    if close:
        hint = f"; did you mean {close[0].upper() if upper else close[0]}?"
    where = "a local path" if store == "local" else f"{store} ({uri})"
    return f"unknown storage option {key!r} for {where}{hint} (nothing was sent)"
