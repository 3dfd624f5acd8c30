# Installation and the Debian package (CPack DEB). Include at the end of the
# top-level CMakeLists.txt, after the latchd and latchctl targets:
#   cmake --build build && (cd build && cpack -G DEB)   ->  latchd_<version>_<arch>.deb
# The package installs under /usr; the flag file goes to /etc/latchd (a
# conffile), the units to /usr/lib/systemd/system, the sysusers.d entry to
# /usr/lib/sysusers.d. A plain `cmake --install` uses CMAKE_INSTALL_PREFIX for
# the relative destinations and the same absolute /etc path.

set(LATCHD_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where the systemd units are installed (relative: under the install prefix)")
set(LATCHD_SYSUSERS_DIR "lib/sysusers.d" CACHE STRING
    "Where the sysusers.d entry is installed (relative: under the install prefix)")
set(LATCHD_CONFIG_DIR "/etc/latchd" CACHE STRING
    "Where the default flag file is installed")

# Everything of the daemon is in the install component "latchd"; the .deb holds
# only that component (other components, e.g. cmake/install.cmake's "client"
# library for C++ servers, are not part of it).
install(TARGETS latchd latchctl RUNTIME DESTINATION bin COMPONENT latchd)
install(FILES
  ${CMAKE_SOURCE_DIR}/systemd/latchd.service
  ${CMAKE_SOURCE_DIR}/systemd/latchd@.service
  DESTINATION ${LATCHD_SYSTEMD_UNIT_DIR} COMPONENT latchd)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/latchd.sysusers
  DESTINATION ${LATCHD_SYSUSERS_DIR} RENAME latchd.conf COMPONENT latchd)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/latchd.flags
  DESTINATION ${LATCHD_CONFIG_DIR} COMPONENT latchd)
install(FILES
  ${CMAKE_SOURCE_DIR}/docs/man/latchd.8
  ${CMAKE_SOURCE_DIR}/docs/man/latchctl.8
  DESTINATION share/man/man8 COMPONENT latchd)
# Every document but the man pages (already installed above).
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION share/doc/latchd COMPONENT latchd
  PATTERN man EXCLUDE)
# The Java client (java/, docs/java.md): /usr/share/java/latchd-client.jar and its javadoc in
# /usr/share/doc/latchd/java-api, when a JDK and Debian's Jackson and servlet API jars are there.
# java/build.sh (javac/jar, offline) runs at install time, so that cpack needs no extra target;
# `make latchd_java` builds it too.
find_program(LATCHD_JAVAC javac)
if(LATCHD_JAVAC AND EXISTS /usr/share/java/jackson-databind.jar
   AND EXISTS /usr/share/java/servlet-api.jar)
  set(LATCHD_JAVA_OUT ${CMAKE_BINARY_DIR}/java)
  add_custom_target(latchd_java
    COMMAND ${CMAKE_SOURCE_DIR}/java/build.sh ${LATCHD_JAVA_OUT} --no-tests USES_TERMINAL)
  install(CODE "execute_process(COMMAND \"${CMAKE_SOURCE_DIR}/java/build.sh\" \"${LATCHD_JAVA_OUT}\" --no-tests RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR \"java/build.sh failed (${rc})\")
endif()" COMPONENT latchd)
  install(FILES ${LATCHD_JAVA_OUT}/latchd-client.jar DESTINATION share/java COMPONENT latchd)
  install(DIRECTORY ${LATCHD_JAVA_OUT}/javadoc/ DESTINATION share/doc/latchd/java-api
    COMPONENT latchd)
  # The jar's run-time dependency (its manifest's Class-Path), only for Java servers.
  set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libjackson2-databind-java, default-jre-headless")
else()
  message(STATUS "javac or Debian's Jackson/servlet jars not found: no latchd-client.jar in the package")
endif()

set(CPACK_GENERATOR DEB)
# One package, latchd, made of the component latchd only.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL latchd)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_PACKAGE_NAME latchd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "latchd developers")
set(CPACK_PACKAGE_CONTACT "latchd developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "ZooKeeper leader latch sidecar (one ACTIVE host, the others PASSIVE)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# An absolute destination (/etc/latchd) is intended.
set(CPACK_WARN_ON_ABSOLUTE_INSTALL_DESTINATION OFF)

set(CPACK_DEBIAN_PACKAGE_NAME latchd)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "latchd developers")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from dpkg-shlibdeps (with the bundled ZooKeeper client, linked
# statically: libsasl2-2, libssl3, libkrb5-3), plus what the postinst needs, plus the SASL
# mechanisms, which libsasl2 loads as plugins at run time: DIGEST-MD5 (libsasl2-modules) and
# GSSAPI/Kerberos (libsasl2-modules-gssapi-mit).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
if(LATCHD_ZK_CLIENT STREQUAL "bundled")
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd | adduser, libsasl2-modules, libsasl2-modules-gssapi-mit")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd | adduser")
endif()
# The synopsis line is CPACK_PACKAGE_DESCRIPTION_SUMMARY; this is the long text.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "latchd runs one Curator-compatible leader latch per host (Apache Atlas's\n"
  "high-availability election) and tells the co-located server, its load\n"
  "balancer and Prometheus which role the host holds: a Unix socket line\n"
  "protocol, HTTP endpoints (/active, /api/atlas/admin/status, /metrics) and\n"
  "role-change hooks. A lease bound to the ZooKeeper session guarantees that\n"
  "two hosts never both claim ACTIVE.\n"
  "\n"
  "Includes latchctl, the command-line client, and systemd units\n"
  "(latchd.service, latchd@.service) running as the user latchd.")
string(REPLACE ";" "" CPACK_DEBIAN_PACKAGE_DESCRIPTION "${CPACK_DEBIAN_PACKAGE_DESCRIPTION}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/deploy/debian/conffiles
  ${CMAKE_SOURCE_DIR}/deploy/debian/postinst
  ${CMAKE_SOURCE_DIR}/deploy/debian/prerm
  ${CMAKE_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(CPack)
