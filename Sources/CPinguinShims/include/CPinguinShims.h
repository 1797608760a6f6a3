#ifndef CPINGUIN_SHIMS_H
#define CPINGUIN_SHIMS_H

// Typed, non-variadic entry points for the C functions Swift cannot call directly.
// curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic; each wrapper
// below fixes the type of the third argument so the compiler checks it.

#include <curl/curl.h>
#include <ares.h>
#include <spawn.h>

CURLcode pinguin_curl_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode pinguin_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode pinguin_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode pinguin_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode pinguin_curl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode pinguin_curl_easy_setopt_write_callback(CURL *handle, curl_write_callback callback);
CURLcode pinguin_curl_easy_setopt_header_callback(CURL *handle, curl_write_callback callback);
CURLcode pinguin_curl_easy_setopt_read_callback(CURL *handle, curl_read_callback callback);

CURLcode pinguin_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode pinguin_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode pinguin_curl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value);
CURLcode pinguin_curl_easy_getinfo_string(CURL *handle, CURLINFO info, const char **value);
CURLcode pinguin_curl_easy_getinfo_slist(CURL *handle, CURLINFO info, struct curl_slist **value);
CURLcode pinguin_curl_easy_getinfo_certinfo(CURL *handle, struct curl_certinfo **value);
CURLcode pinguin_curl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value);

CURLMcode pinguin_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value);
CURLMcode pinguin_curl_multi_setopt_pointer(CURLM *handle, CURLMoption option, void *value);

/// Closes every descriptor from `lowest` up in the spawned child (glibc's
/// posix_spawn_file_actions_addclosefrom_np, hidden from Swift behind _GNU_SOURCE), so that a
/// child never inherits sockets or pipes it has no business holding open.
int pinguin_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int lowest);

/// The c-ares version string ("1.18.1"), for start-up logs and `system.version`.
const char *pinguin_ares_version_string(void);

#endif
