#pragma once
// What the lesson programs of docs/learn/ share: the error a blanked exercise throws,
// and a self-check that says in words what passes and what is wrong, and turns that
// into the exit code (0: every check passes).
//
// An exercise is the code between two marker lines in a lesson's source:
//     // BEGIN EXERCISE <name>
//     ... the solution the repository ships ...
//     // END EXERCISE
// `scripts/learn.sh reset N` replaces what lies between them with
//     throw sg::learn::NotWrittenYet("<name>", __FILE__);
// which compiles whatever the function returns, so the lesson still builds and its
// check says which exercise is left to write.
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

namespace sg::learn {

class NotWrittenYet : public std::runtime_error {
 public:
  NotWrittenYet(const std::string& exercise, const std::string& file)
      : std::runtime_error("exercise '" + exercise + "' is not written yet: in " + file +
                           ", write it between '// BEGIN EXERCISE " + exercise + "' and '// END EXERCISE'"),
        exercise_(exercise) {}
  const std::string& exercise() const { return exercise_; }

 private:
  std::string exercise_;
};

// Collects a lesson's checks. Each prints one line at once:
//     [pass]  what was checked
//     [WRONG] what was checked
//             why, and what to look at
class SelfCheck {
 public:
  explicit SelfCheck(int lesson) : lesson_(lesson) {}

  // Records one check; returns `ok` so that later checks can depend on it.
  bool expect(bool ok, const std::string& what, const std::string& if_wrong = "") {
    ++checks_;
    if (ok) {
      std::printf("  [pass]  %s\n", what.c_str());
    } else {
      ++wrong_;
      std::printf("  [WRONG] %s\n", what.c_str());
      if (!if_wrong.empty()) std::printf("          %s\n", if_wrong.c_str());
    }
    std::fflush(stdout);
    return ok;
  }

  // Runs one part of the lesson. A blank exercise, or any error, inside it is one wrong
  // check that says so; the other parts still run.
  template <class Body>
  void part(const std::string& title, Body body) {
    std::printf("\n%s\n", title.c_str());
    try {
      body();
    } catch (const NotWrittenYet& e) {
      expect(false, "exercise '" + e.exercise() + "' runs", std::string(e.what()) + ", then run: scripts/learn.sh check " +
                                                          std::to_string(lesson_));
    } catch (const std::exception& e) {
      expect(false, "this part runs without an error", e.what());
    }
  }

  // The summary line; the exit code for main.
  int finish() const {
    if (wrong_ == 0) {
      std::printf("\nLesson %d check: PASSED (%d of %d checks pass).\n", lesson_, checks_, checks_);
      return 0;
    }
    std::printf("\nLesson %d check: FAILED (%d of %d checks wrong; each [WRONG] line above says why).\n", lesson_,
                wrong_, checks_);
    return 1;
  }

 private:
  int lesson_;
  int checks_ = 0;
  int wrong_ = 0;
};

}  // namespace sg::learn
