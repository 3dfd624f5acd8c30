# The latchd client package: the static library `latchd_client` (RoleClient,
# lib/client/*.cc + lib/core/role.cc + lib/util/json_writer.cc), its four
# public headers, and a CMake
# package so that a server's build does
#
#   find_package(latchd 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE latchd::client)
#   // #include "lib/client/role_client.h"
#
# Include this file from the top-level CMakeLists.txt after the find_package()
# calls (it needs Threads::Threads and nlohmann_json::nlohmann_json; it finds
# them itself when they are missing). It uses paths relative to this file, so
# it also works from cmake/client/CMakeLists.txt, a client-only build that needs
# neither ZooKeeper nor glog.
#
# Installed layout (under CMAKE_INSTALL_PREFIX):
#   include/latchd/lib/client/role_client.h
#   include/latchd/lib/client/client_status.h
#   include/latchd/lib/core/role.h
#   include/latchd/lib/util/status.h
#   lib/liblatchd_client.a
#   lib/cmake/latchd/latchdConfig.cmake, latchdConfigVersion.cmake,
#                    latchdTargets.cmake, latchdTargets-<config>.cmake
# (lib may be lib64 etc., as GNUInstallDirs decides.) Everything is in the
# install component "client".
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_filename_component(LATCHD_PACKAGE_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

if(NOT TARGET Threads::Threads)
  find_package(Threads REQUIRED)
endif()
if(NOT TARGET nlohmann_json::nlohmann_json)
  find_package(nlohmann_json REQUIRED)
endif()

file(GLOB LATCHD_CLIENT_SOURCES CONFIGURE_DEPENDS ${LATCHD_PACKAGE_ROOT}/lib/client/*.cc)
add_library(latchd_client STATIC ${LATCHD_CLIENT_SOURCES} ${LATCHD_PACKAGE_ROOT}/lib/core/role.cc
  ${LATCHD_PACKAGE_ROOT}/lib/util/json_writer.cc)
add_library(latchd::client ALIAS latchd_client)
set_target_properties(latchd_client PROPERTIES
  EXPORT_NAME client
  POSITION_INDEPENDENT_CODE ON)
# Consumers need C++17 for the public headers; the library itself is C++20.
target_compile_features(latchd_client PUBLIC cxx_std_17 PRIVATE cxx_std_20)
target_include_directories(latchd_client PUBLIC
  $<BUILD_INTERFACE:${LATCHD_PACKAGE_ROOT}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/latchd>)
# nlohmann-json is header-only and used only inside the .cc files: consumers
# need not find it, so it is kept out of the exported interface.
target_link_libraries(latchd_client
  PUBLIC Threads::Threads
  PRIVATE $<BUILD_INTERFACE:nlohmann_json::nlohmann_json>)

set(LATCHD_PACKAGE_VERSION "${PROJECT_VERSION}")
if(NOT LATCHD_PACKAGE_VERSION)
  set(LATCHD_PACKAGE_VERSION 0.0.0)
endif()
set(LATCHD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/latchd)
set(LATCHD_INCLUDE_DIR ${CMAKE_INSTALL_INCLUDEDIR}/latchd)

install(TARGETS latchd_client EXPORT latchdTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT client)
install(FILES ${LATCHD_PACKAGE_ROOT}/lib/client/role_client.h
  ${LATCHD_PACKAGE_ROOT}/lib/client/client_status.h
  DESTINATION ${LATCHD_INCLUDE_DIR}/lib/client COMPONENT client)
install(FILES ${LATCHD_PACKAGE_ROOT}/lib/core/role.h
  DESTINATION ${LATCHD_INCLUDE_DIR}/lib/core COMPONENT client)
install(FILES ${LATCHD_PACKAGE_ROOT}/lib/util/status.h
  DESTINATION ${LATCHD_INCLUDE_DIR}/lib/util COMPONENT client)
install(EXPORT latchdTargets NAMESPACE latchd::
  DESTINATION ${LATCHD_CMAKE_DIR} COMPONENT client)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/latchdConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/latchdConfig.cmake
  INSTALL_DESTINATION ${LATCHD_CMAKE_DIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/latchdConfigVersion.cmake
  VERSION ${LATCHD_PACKAGE_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/latchdConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/latchdConfigVersion.cmake
  DESTINATION ${LATCHD_CMAKE_DIR} COMPONENT client)
