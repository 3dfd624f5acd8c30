# libsystemd for lib/io/sd_notify.cc (sd_notify, sd_watchdog_enabled).
# Include after latchd_lib is defined. Debian: apt-get install libsystemd-dev.
find_package(PkgConfig REQUIRED)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
target_link_libraries(latchd_lib PUBLIC PkgConfig::SYSTEMD)
