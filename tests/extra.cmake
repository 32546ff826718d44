# Per-test settings beyond "one program, one test" (included by CMakeLists.txt).

# Capacity tests take minutes under a sanitizer: normal build only.
foreach(t test_scale)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES LABELS heavy)
  endif()
endforeach()

# The same programs as an unprivileged user: user-mode-only userfaultfd.
# Linked with the static library and run from a copy (see the script).
execute_process(COMMAND id -u OUTPUT_VARIABLE ZPAGE_UID OUTPUT_STRIP_TRAILING_WHITESPACE)
find_program(SETPRIV setpriv)
if(ZPAGE_UID STREQUAL "0" AND SETPRIV)
  foreach(t test_syscall test_smoke test_paging)
    if(TARGET ${t})
      add_executable(${t}_unprivileged ${t}.c zpt.c)
      target_include_directories(${t}_unprivileged PRIVATE ${CMOCKA_INCLUDE_DIR}
        ${CMAKE_CURRENT_SOURCE_DIR})
      target_link_libraries(${t}_unprivileged PRIVATE zpage_static ${CMOCKA_LIBRARY})
      # auto picks signal delivery; thread delivery is tested too.
      add_test(NAME ${t}_unprivileged
        COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/run_unprivileged.sh
                $<TARGET_FILE:${t}_unprivileged>)
      add_test(NAME ${t}_unprivileged_thread
        COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/run_unprivileged.sh
                $<TARGET_FILE:${t}_unprivileged>)
      set_tests_properties(${t}_unprivileged PROPERTIES TIMEOUT 600
        SKIP_RETURN_CODE 77 ENVIRONMENT "${ZPAGE_TEST_ENV}")
      set_tests_properties(${t}_unprivileged_thread PROPERTIES TIMEOUT 600
        SKIP_RETURN_CODE 77 ENVIRONMENT "${ZPAGE_TEST_ENV};ZPAGE_FAULT_MODE=thread")
    endif()
  endforeach()
endif()

# Link-time replacement of the plug-ins also with the static library.
if(TARGET test_override)
  add_executable(test_override_static test_override.c zpt.c)
  target_include_directories(test_override_static PRIVATE ${CMOCKA_INCLUDE_DIR}
    ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(test_override_static PRIVATE zpage_static ${CMOCKA_LIBRARY})
  add_test(NAME test_override_static COMMAND test_override_static)
  set_tests_properties(test_override_static PROPERTIES TIMEOUT 600
    SKIP_RETURN_CODE 77 ENVIRONMENT "${ZPAGE_TEST_ENV}")
endif()

# Faults served by handler threads (the default is the faulting thread
# itself, from SIGBUS).
foreach(t test_smoke test_map test_phys test_paging test_stats test_syscall test_signals
          test_override test_model test_engine)
  if(TEST ${t})
    add_test(NAME ${t}_thread COMMAND ${t})
    set_tests_properties(${t}_thread PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77
      ENVIRONMENT "${ZPAGE_TEST_ENV};ZPAGE_FAULT_MODE=thread")
  endif()
endforeach()

# The model under the other engine settings: the fast configuration (sweep,
# read-ahead, background evictor), clock, and page groups with the evictor
# under nru and handler threads.
if(TEST test_model)
  add_test(NAME test_model_fast COMMAND test_model)
  set_tests_properties(test_model_fast PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77
    ENVIRONMENT "${ZPAGE_TEST_ENV};ZPT_MODEL_OPS=300000;ZPAGE_EVICTION=sweep;ZPAGE_FAULT_MODE=signal;ZPAGE_READAHEAD=16;ZPAGE_EVICTOR=1")
  # clock clears accessed bits as its hand passes; the kernel maps touched
  # pages back by itself (mapped access tracking) while others evict.
  add_test(NAME test_model_clock COMMAND test_model)
  set_tests_properties(test_model_clock PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77
    ENVIRONMENT "${ZPAGE_TEST_ENV};ZPT_MODEL_OPS=300000;ZPAGE_EVICTION=clock")
  # The stores under four threads: compressed memory, and a file with
  # io_uring writes.
  add_test(NAME test_model_lz4 COMMAND test_model)
  set_tests_properties(test_model_lz4 PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77
    ENVIRONMENT "${ZPAGE_TEST_ENV};ZPT_MODEL_OPS=200000;ZPT_MODEL_STORE=lz4")
  add_test(NAME test_model_file COMMAND test_model)
  set_tests_properties(test_model_file PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77
    ENVIRONMENT "${ZPAGE_TEST_ENV};ZPT_MODEL_OPS=200000;ZPT_MODEL_STORE=file:/var/tmp")
  # ... and with pwrite only, as where io_uring is refused.
  add_test(NAME test_model_file_pwrite COMMAND test_model)
  set_tests_properties(test_model_file_pwrite PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77
    ENVIRONMENT "${ZPAGE_TEST_ENV};ZPT_MODEL_OPS=100000;ZPT_MODEL_STORE=file:/var/tmp;ZPAGE_IO_URING=0")
  add_test(NAME test_model_groups COMMAND test_model)
  set_tests_properties(test_model_groups PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77
    ENVIRONMENT "${ZPAGE_TEST_ENV};ZPT_MODEL_OPS=200000;ZPAGE_PAGE_SIZE=16K;ZPAGE_EVICTOR=1;ZPAGE_FAULT_MODE=thread")
endif()

# The stores' failure paths also with handler threads serving the faults.
if(TEST test_stores)
  add_test(NAME test_stores_thread COMMAND test_stores)
  set_tests_properties(test_stores_thread PROPERTIES TIMEOUT 600
    SKIP_RETURN_CODE 77 ENVIRONMENT "${ZPAGE_TEST_ENV};ZPAGE_FAULT_MODE=thread")
endif()

# File mappings also with handler threads and with Zephyr's nru.
if(TEST test_filemap)
  add_test(NAME test_filemap_thread COMMAND test_filemap)
  set_tests_properties(test_filemap_thread PROPERTIES TIMEOUT 600
    SKIP_RETURN_CODE 77 ENVIRONMENT "${ZPAGE_TEST_ENV};ZPAGE_FAULT_MODE=thread;ZPAGE_EVICTION=nru")
endif()

# The simulator's exact counts (FIFO, LRU, OPT) against reference models:
# no library, only the simulator.
if(TARGET zpsim)
  add_executable(sim_test sim_test.c)
  target_include_directories(sim_test PRIVATE ${CMOCKA_INCLUDE_DIR}
    ${PROJECT_SOURCE_DIR}/tools)
  target_link_libraries(sim_test PRIVATE zpsim ${CMOCKA_LIBRARY})
  add_test(NAME sim_test COMMAND sim_test)
  set_tests_properties(sim_test PROPERTIES TIMEOUT 600)
endif()

# Races set up with the library's internals (the static library exports
# them to the program it is linked into).
add_executable(internal_test internal_test.c zpt.c)
target_include_directories(internal_test PRIVATE ${CMOCKA_INCLUDE_DIR}
  ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(internal_test PRIVATE zpage_static ${CMOCKA_LIBRARY})
add_test(NAME internal_test COMMAND internal_test)
set_tests_properties(internal_test PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77
  ENVIRONMENT "${ZPAGE_TEST_ENV}")
