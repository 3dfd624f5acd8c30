# The ZooKeeper C client as the target zookeeper::mt (multi-threaded API, THREADED).
#
# LATCHD_ZK_CLIENT=bundled (default): the client built with Cyrus SASL and OpenSSL from
#   Debian's source package by scripts/build-zk-client.sh, linked statically. Its prefix is
#   LATCHD_ZK_CLIENT_DIR (default: the script's cache link, <repo>/.cache/zookeeper-client/
#   current, or $LATCHD_CACHE_DIR/zookeeper-client/current); when it is missing, configuring
#   runs the script (root on a fresh machine: it adds a deb-src entry). Defines
#   HAVE_CYRUS_SASL_H and HAVE_OPENSSL_H for consumers (zookeeper.h declares
#   zookeeper_init_sasl / zookeeper_init_ssl behind them) and links libsasl2, OpenSSL and
#   libkrb5 (lib/zk/zk_security.cc picks the Kerberos client principal).
# LATCHD_ZK_CLIENT=system: Debian's libzookeeper-mt2 (no SASL, no TLS: latchd then refuses
#   --zk_sasl_* and --zk_tls_* with exit code 2).
set(LATCHD_ZK_CLIENT "bundled" CACHE STRING "ZooKeeper C client: bundled (SASL+TLS) or system")
set_property(CACHE LATCHD_ZK_CLIENT PROPERTY STRINGS bundled system)

if(LATCHD_ZK_CLIENT STREQUAL "system")
  # Debian's libzookeeper-mt-dev ships neither pkg-config nor CMake files.
  find_path(ZOOKEEPER_INCLUDE_DIR zookeeper/zookeeper.h REQUIRED)
  find_library(ZOOKEEPER_MT_LIBRARY zookeeper_mt REQUIRED)
  add_library(zookeeper::mt UNKNOWN IMPORTED)
  set_target_properties(zookeeper::mt PROPERTIES
    IMPORTED_LOCATION "${ZOOKEEPER_MT_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${ZOOKEEPER_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS THREADED)
  return()
elseif(NOT LATCHD_ZK_CLIENT STREQUAL "bundled")
  message(FATAL_ERROR "LATCHD_ZK_CLIENT must be bundled or system, not '${LATCHD_ZK_CLIENT}'")
endif()

if(DEFINED ENV{LATCHD_CACHE_DIR})
  set(_latchd_zk_default "$ENV{LATCHD_CACHE_DIR}/zookeeper-client/current")
else()
  set(_latchd_zk_default "${CMAKE_SOURCE_DIR}/.cache/zookeeper-client/current")
endif()
set(LATCHD_ZK_CLIENT_DIR "${_latchd_zk_default}" CACHE PATH
    "Prefix of the SASL/TLS ZooKeeper C client (scripts/build-zk-client.sh)")
if(NOT EXISTS "${LATCHD_ZK_CLIENT_DIR}/lib/libzookeeper.a")
  message(STATUS "ZooKeeper C client with SASL and TLS: not in ${LATCHD_ZK_CLIENT_DIR}; "
                 "running scripts/build-zk-client.sh")
  execute_process(COMMAND bash "${CMAKE_SOURCE_DIR}/scripts/build-zk-client.sh"
                  RESULT_VARIABLE _latchd_zk_rc OUTPUT_VARIABLE _latchd_zk_out
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _latchd_zk_rc EQUAL 0 OR NOT EXISTS "${LATCHD_ZK_CLIENT_DIR}/lib/libzookeeper.a")
    message(FATAL_ERROR "scripts/build-zk-client.sh failed (see above), or it built into "
                        "${_latchd_zk_out} and not ${LATCHD_ZK_CLIENT_DIR}. Build without SASL "
                        "and TLS: -DLATCHD_ZK_CLIENT=system")
  endif()
endif()

find_path(SASL2_INCLUDE_DIR sasl/sasl.h REQUIRED)
find_library(SASL2_LIBRARY sasl2 REQUIRED)
find_path(KRB5_INCLUDE_DIR krb5.h REQUIRED)
find_library(KRB5_LIBRARY krb5 REQUIRED)
add_library(zookeeper::hashtable STATIC IMPORTED)
set_target_properties(zookeeper::hashtable PROPERTIES
  IMPORTED_LOCATION "${LATCHD_ZK_CLIENT_DIR}/lib/libhashtable.a")
add_library(zookeeper::mt STATIC IMPORTED)
set_target_properties(zookeeper::mt PROPERTIES
  IMPORTED_LOCATION "${LATCHD_ZK_CLIENT_DIR}/lib/libzookeeper.a"
  INTERFACE_INCLUDE_DIRECTORIES "${LATCHD_ZK_CLIENT_DIR}/include;${SASL2_INCLUDE_DIR};${KRB5_INCLUDE_DIR}"
  INTERFACE_COMPILE_DEFINITIONS "THREADED;HAVE_CYRUS_SASL_H;HAVE_OPENSSL_H"
  INTERFACE_LINK_LIBRARIES
    "zookeeper::hashtable;${SASL2_LIBRARY};${KRB5_LIBRARY};OpenSSL::SSL;OpenSSL::Crypto;Threads::Threads;rt;m")
message(STATUS "ZooKeeper C client with SASL and TLS: ${LATCHD_ZK_CLIENT_DIR}")
